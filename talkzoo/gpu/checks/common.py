"""What every check gets (CheckContext) and returns (Outcome), and the small measuring helpers they share."""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from talkzoo.gpu.profiles import Profile


@dataclass
class CheckContext:
    """profile: sizes and budgets; device: 'cuda' or 'cpu'; speaker: the pre-made speaker folder (None when the
    check needs none and there is none); work: a scratch folder shared by the checks of one run (run folders of the
    recipes live there); config_dir: the recipes (configs/); root: the checkout (None when talkzoo is installed)."""

    profile: Profile
    device: str
    speaker: Path | None
    work: Path
    config_dir: Path
    root: Path | None

    @property
    def cuda(self) -> bool:
        return self.device == "cuda"

    def require_speaker(self) -> Path:
        if self.speaker is None:
            raise RuntimeError("no speaker folder: build the kit (make gpu-kit) or pass --speaker")
        return self.speaker


class Outcome:
    """Measurements (metrics), pass/fail criteria, notes, and the errors of parts that broke (each part of a check
    runs under `attempt`, so one broken measurement never hides the others)."""

    def __init__(self) -> None:
        self.metrics: dict[str, Any] = {}
        self.criteria: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.errors: dict[str, str] = {}

    def metric(self, name: str, value: Any) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)  # JSON has no inf / nan
        self.metrics[name] = value

    def criterion(self, name: str, passed: bool, detail: str = "") -> None:
        self.criteria.append({"name": name, "passed": bool(passed), "detail": detail})

    def note(self, text: str) -> None:
        self.notes.append(text)

    @contextmanager
    def attempt(self, part: str) -> Iterator[None]:
        """Run one part; an exception is recorded (and fails the criterion '<part> ran') instead of propagating."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - recorded in the report, the other parts still run
            message = f"{type(exc).__name__}: {exc}".strip()
            self.errors[part] = message[:2000] + "\n" + "".join(traceback.format_exc(limit=-4))[-3000:]
            self.criterion(f"{part} ran", False, message.splitlines()[0][:300] if message else "")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "criteria": self.criteria, "notes": self.notes, "errors": self.errors}


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(device: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    """(fn(), wall seconds), the device synchronised before and after."""
    synchronize(device)
    start = time.perf_counter()
    value = fn()
    synchronize(device)
    return value, time.perf_counter() - start


def reset_peak_memory(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_memory_mb(device: str) -> float | None:
    """Peak CUDA memory allocated since the last reset (MiB); None on CPU."""
    return torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """PSNR (dB, images in [0, 1]) of a vs b [3, H, W], over the pixels of mask [H, W] when given; inf if equal."""
    error = (a.float() - b.float()).square().mean(dim=0)
    if mask is not None:
        error = error[mask]
    mse = float(error.mean()) if error.numel() else 0.0
    return math.inf if mse == 0 else -10 * math.log10(mse)


def nerfacc_status() -> tuple[bool, str]:
    """Whether nerfacc's CUDA extension is available in this process (talkzoo.zoo.rendering.samplers' probe)."""
    from talkzoo.zoo.rendering.samplers import nerfacc_cuda_status

    return nerfacc_cuda_status()

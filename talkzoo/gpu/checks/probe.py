"""A Lightning callback that watches a short `talkzoo fit` for the GPU checks: per training batch the loss, the
logged train/* scalars and the mixed-precision loss scale; at the end whether every parameter is finite, the peak
CUDA memory and the wall time. Added on the command line (`--trainer.callbacks+=...TrainingProbe`); the check reads
the instance back from `TrainingProbe.INSTANCES` (LightningCLI runs in the check's own process)."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

# The metric that shows learning, in order of preference: GAN recipes log their reconstruction L1 (the adversarial
# terms need not fall), the NeRF stages their photometric MSE, the others their total loss.
MAIN_METRICS = ("train/l1", "train/mse", "train/loss")


class TrainingProbe(Callback):
    """Records what a short fit did (see the module docstring)."""

    INSTANCES: ClassVar[list[TrainingProbe]] = []

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict[str, Any]] = []
        self.params_finite: bool | None = None
        self.peak_cuda_mb: float | None = None
        self.seconds: float | None = None
        self.precision: str | None = None
        self.initial_scale: float | None = None
        self.root_dir: str | None = None
        self._start = 0.0
        TrainingProbe.INSTANCES.append(self)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        self.precision = str(trainer.precision)
        self.root_dir = str(trainer.default_root_dir)
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        self.initial_scale = float(scaler.get_scale()) if scaler is not None else None
        self._start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        metrics = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if key.startswith("train/") and torch.is_tensor(value) and value.numel() == 1
        }
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        self.steps.append(
            {
                "loss": float(loss) if torch.is_tensor(loss) else None,
                "metrics": metrics,
                "scale": float(scaler.get_scale()) if scaler is not None else None,
            }
        )

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak_cuda_mb = torch.cuda.max_memory_allocated() / 2**20
        self.seconds = time.perf_counter() - self._start
        self.params_finite = all(bool(torch.isfinite(p).all()) for p in pl_module.parameters())

    # --------------------------------------------------------------------------------------------- summary
    def main_metric(self) -> str | None:
        for key in MAIN_METRICS:
            if any(key in step["metrics"] for step in self.steps):
                return key
        return None

    def series(self, key: str | None) -> list[float]:
        if key is None:
            return [s["loss"] for s in self.steps if s["loss"] is not None]
        return [s["metrics"][key] for s in self.steps if key in s["metrics"]]

    def nonfinite(self) -> int:
        """Logged values (loss and train/* scalars over all batches) that are inf or NaN."""
        values = [s["loss"] for s in self.steps if s["loss"] is not None]
        values += [v for s in self.steps for v in s["metrics"].values()]
        return sum(1 for v in values if not math.isfinite(v))

    def scale_drops(self) -> int:
        """Batches after which the fp16 loss scale fell (the GradScaler skipped that optimizer step)."""
        scales = [self.initial_scale] if self.initial_scale is not None else []
        scales += [s["scale"] for s in self.steps if s["scale"] is not None]
        return sum(1 for a, b in zip(scales, scales[1:], strict=False) if b < a)

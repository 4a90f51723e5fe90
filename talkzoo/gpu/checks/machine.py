"""Section 5: the machine a report was measured on (GPU, driver, torch, CUDA, compiler, package versions)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from typing import Any

import torch

PACKAGES = ("torch", "lightning", "torchmetrics", "transformers", "numpy", "nerfacc", "jsonargparse", "triton")


def _command(*args: str) -> str | None:
    """First non-empty output line of a command (its last line for `nvcc --version`), None if it cannot run."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line.strip() for line in (done.stdout or done.stderr).splitlines() if line.strip()]
    if not lines:
        return None
    return lines[-1] if args[0] == "nvcc" else lines[0]


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "nvcc": _command("nvcc", "--version"),
        "ninja": _command("ninja", "--version"),
    }
    for name in PACKAGES:
        try:
            info[f"version_{name}"] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[f"version_{name}"] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            gpu=props.name,
            gpu_count=torch.cuda.device_count(),
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            compute_capability=f"{props.major}.{props.minor}",
            cudnn=torch.backends.cudnn.version(),
            bf16_supported=torch.cuda.is_bf16_supported(),
            driver=_command("nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"),
        )
    return info

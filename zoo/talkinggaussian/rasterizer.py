"""One rasteriser interface: `rasterize(...)` picks gsplat on CUDA when it loads, else the plain-torch path.

backend: 'auto' (gsplat for CUDA tensors if it imports and builds, torch otherwise; one warning when it falls back),
'torch', or 'gsplat' (an error when unusable). Both paths take activated parameters and precomputed colours and return
a `RasterOutput`. `TALKZOO_GSPLAT=off` in the environment makes gsplat unusable (never imported, never built): the GPU
kit runs Gaussian code on the torch path while gsplat's CUDA kernels build in another process.
"""

from __future__ import annotations

import os
import warnings

import torch

from talkzoo.zoo.talkinggaussian.camera import Camera
from talkzoo.zoo.talkinggaussian.raster_torch import rasterize_torch
from talkzoo.zoo.talkinggaussian.raster_types import RasterOutput, RasterSettings

BACKENDS = ("auto", "torch", "gsplat")
_GSPLAT: dict[str, object] = {}  # {"ok": bool, "error": str}, filled on the first CUDA call


def gsplat_status(device: torch.device) -> tuple[bool, str]:
    """(whether gsplat renders on `device`, why not / "gsplat's CUDA kernels are loaded"); builds them on first
    use (gsplat compiles its CUDA sources the first time a process needs them)."""
    if device.type != "cuda":
        return False, f"tensors are on {device.type}, gsplat needs CUDA"
    if gsplat_usable(device):
        return True, "gsplat's CUDA kernels are loaded"
    return False, str(_GSPLAT["error"])


def gsplat_usable(device: torch.device) -> bool:
    """Whether gsplat imports and its CUDA kernels build/run on `device` (tried once per process)."""
    if device.type != "cuda":
        return False
    if os.environ.get("TALKZOO_GSPLAT", "").strip().lower() in ("0", "off", "false", "no"):
        _GSPLAT.setdefault("error", "TALKZOO_GSPLAT=off")
        return False
    if "ok" not in _GSPLAT:
        try:
            from talkzoo.zoo.talkinggaussian.raster_gsplat import rasterize_gsplat

            eye = torch.eye(4, device=device)
            camera = Camera(eye, torch.tensor([8.0, 8.0, 4.0, 4.0], device=device), 8, 8)
            one = torch.ones(1, 3, device=device)
            mean, quat = torch.tensor([[0.0, 0.0, 1.0]], device=device), torch.tensor([[1.0, 0, 0, 0]], device=device)
            rasterize_gsplat(mean, one * 0.1, quat, torch.ones(1, device=device) * 0.5, one, camera)
            _GSPLAT.update(ok=True, error="")
        except Exception as error:  # ImportError, a failed JIT build, a missing CUDA toolkit, ...
            _GSPLAT.update(ok=False, error=f"{type(error).__name__}: {error}")
    return bool(_GSPLAT["ok"])


def rasterize(
    means: torch.Tensor,
    scales: torch.Tensor,
    quats: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    camera: Camera,
    background: torch.Tensor | None = None,
    settings: RasterSettings | None = None,
    features: torch.Tensor | None = None,
    backend: str = "auto",
) -> RasterOutput:
    """Render Gaussians (see `raster_torch.rasterize_torch` for shapes and semantics) with the chosen backend.
    Always in float32, also inside a mixed-precision autocast region (projection and compositing need it)."""
    with torch.autocast(device_type=means.device.type, enabled=False):
        means, scales, quats, opacities, colors = (x.float() for x in (means, scales, quats, opacities, colors))
        background = background.float() if background is not None else None
        features = features.float() if features is not None else None
        return _rasterize(means, scales, quats, opacities, colors, camera, background, settings, features, backend)


def _rasterize(
    means: torch.Tensor,
    scales: torch.Tensor,
    quats: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    camera: Camera,
    background: torch.Tensor | None,
    settings: RasterSettings | None,
    features: torch.Tensor | None,
    backend: str,
) -> RasterOutput:
    if backend not in BACKENDS:
        raise ValueError(f"unknown rasteriser backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    use_gsplat = False
    if backend == "gsplat":
        if not gsplat_usable(means.device):
            reason = _GSPLAT.get("error") or f"tensors are on {means.device.type}, gsplat needs CUDA"
            raise RuntimeError(f"rasteriser backend 'gsplat' is unusable ({reason}); use backend 'torch' or 'auto'")
        use_gsplat = True
    elif backend == "auto" and means.is_cuda:
        use_gsplat = gsplat_usable(means.device)
        if not use_gsplat and not _GSPLAT.get("warned"):
            _GSPLAT["warned"] = True
            warnings.warn(
                f"gsplat is unusable ({_GSPLAT['error']}); rendering Gaussians with the plain-torch rasteriser "
                "(slower). Install the CUDA extra: pip install gsplat==1.5.3",
                stacklevel=2,
            )
    if use_gsplat:
        from talkzoo.zoo.talkinggaussian.raster_gsplat import rasterize_gsplat

        return rasterize_gsplat(means, scales, quats, opacities, colors, camera, background, settings, features)
    return rasterize_torch(means, scales, quats, opacities, colors, camera, background, settings, features)

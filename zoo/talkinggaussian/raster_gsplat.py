"""The gsplat path of the rasteriser (CUDA): `gsplat.rasterization` with 3DGS's constants (eps2d 0.3, near 0.2,
classic mode, unpacked), colours precomputed by the caller (SH evaluated in torch, as the torch path).

Known differences to the torch path / diff-gaussian-rasterization: gsplat caps α at 0.999 (not 0.99) and sizes the
footprint from its own radius rule; both only matter for near-opaque cores and the far tails.
gsplat is an optional dependency (not installed by default): `pip install gsplat==1.5.3`; it JIT-compiles its CUDA
kernels on first use (needs a CUDA toolkit), which is why `rasterizer.gsplat_usable` tries it once.
"""

from __future__ import annotations

import torch

from talkzoo.zoo.talkinggaussian.camera import Camera
from talkzoo.zoo.talkinggaussian.raster_types import RasterOutput, RasterSettings


def _gsplat_pass(
    means: torch.Tensor,
    scales: torch.Tensor,
    quats: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    camera: Camera,
    settings: RasterSettings,
    depth: bool,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    import gsplat  # optional CUDA dependency (JIT-compiled on first use)

    rendered, alphas, meta = gsplat.rasterization(
        means, quats, scales, opacities.reshape(-1), colors,
        camera.viewmat[None].float(), camera.K()[None].float(), camera.width, camera.height,
        near_plane=settings.near, eps2d=settings.eps2d, packed=False, rasterize_mode="classic",
        render_mode="RGB+D" if depth else "RGB",
    )  # fmt: skip
    return rendered[0], alphas[0], meta


def rasterize_gsplat(
    means: torch.Tensor,
    scales: torch.Tensor,
    quats: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    camera: Camera,
    background: torch.Tensor | None = None,
    settings: RasterSettings | None = None,
    features: torch.Tensor | None = None,
) -> RasterOutput:
    """Same contract as `raster_torch.rasterize_torch` (see there), on CUDA through gsplat."""
    settings = settings or RasterSettings()
    channels = colors.shape[-1]
    rendered, alphas, meta = _gsplat_pass(means, scales, quats, opacities, colors, camera, settings, depth=True)
    image = rendered[..., :channels].permute(2, 0, 1)  # [C, H, W] without background
    alpha = alphas.permute(2, 0, 1)  # [1, H, W]
    if background is not None:
        image = image + (1 - alpha) * background.reshape(channels, 1, 1).to(image.dtype)
    means2d = meta["means2d"]
    if means2d.requires_grad:
        means2d.retain_grad()
    radii = meta["radii"][0]
    if radii.dim() == 2:  # gsplat ≥ 1.5 returns (x, y) radii
        radii = radii.max(dim=-1).values
    out = RasterOutput(
        image=image, alpha=alpha, depth=rendered[..., channels:].permute(2, 0, 1), radii=radii.long(),
        means2d=means2d[0],
    )  # fmt: skip
    if features is not None:  # a second pass with detached geometry (TalkingGaussian's attention maps)
        feats, _, _ = _gsplat_pass(
            means.detach(), scales.detach(), quats.detach(), opacities.detach(), features, camera, settings, False
        )
        out.features = feats.permute(2, 0, 1)
    return out

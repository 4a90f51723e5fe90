"""The plain-torch Gaussian rasteriser (CPU, and the fallback when gsplat cannot load): exact EWA projection, then
front-to-back alpha compositing over the (Gaussian, pixel) pairs inside each Gaussian's 3σ square — a sparse,
differentiable version of 3DGS's tile rasteriser (Kerbl et al. 2023; diff-gaussian-rasterization's forward.cu).

Per pixel, over the Gaussians covering it sorted by camera depth (nearest first):
    α_i = min(α_max, o_i·exp(−½ dᵀ Σ₂⁻¹ d)),   skipped when α_i < α_min (1/255)
    T_i = Π_{j<i} (1 − α_j),                    the walk stops before the Gaussian that would make T < T_min (1e-4)
    colour = Σ c_i α_i T_i + T_final·bg,  alpha = Σ α_i T_i,  depth = Σ z_i α_i T_i (not normalised, as 3DGS)
d = pixel centre − projected mean. A Gaussian covers the pixels whose centres lie within its radius
ceil(3√λ_max) of the mean in x and y (3DGS evaluates every pixel of the 16×16 tiles that square touches; the
difference is the far tail, below α_min for opacities < 0.35).

The pairs are enumerated per Gaussian, stable-sorted by pixel (the Gaussians being pre-sorted by depth, each pixel's
list stays in depth order), and T comes from a segmented cumulative sum of log(1 − α) in float64. Cost and memory
grow with the number of pairs Σ (2r+1)², not with N·H·W: a few thousand Gaussians at 64–128² are 10⁵–10⁶ pairs.
"""

from __future__ import annotations

import torch

from talkzoo.zoo.talkinggaussian.camera import Camera
from talkzoo.zoo.talkinggaussian.covariance import project_gaussians
from talkzoo.zoo.talkinggaussian.raster_types import RasterOutput, RasterSettings


def _pairs(
    means2d: torch.Tensor, radius: torch.Tensor, order: torch.Tensor, width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Gaussian, pixel) pairs of the Gaussians `order` (depth-sorted indices) → gaussian [K], pixel [K] (row·W +
    col), sorted by pixel with each pixel's Gaussians in depth order."""
    u, v = means2d[order, 0].detach(), means2d[order, 1].detach()
    r = radius[order].to(u.dtype)
    c0 = torch.ceil(u - r - 0.5).clamp(min=0).long()
    c1 = torch.floor(u + r - 0.5).clamp(max=width - 1).long()
    r0 = torch.ceil(v - r - 0.5).clamp(min=0).long()
    r1 = torch.floor(v + r - 0.5).clamp(max=height - 1).long()
    box_w, box_h = (c1 - c0 + 1).clamp(min=0), (r1 - r0 + 1).clamp(min=0)
    counts = box_w * box_h
    total = int(counts.sum())
    device = means2d.device
    if total == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty
    local_g = torch.repeat_interleave(torch.arange(order.numel(), device=device), counts, output_size=total)
    start = torch.cumsum(counts, 0) - counts
    offset = torch.arange(total, device=device) - start[local_g]
    bw = box_w[local_g]
    col = c0[local_g] + offset % bw
    row = r0[local_g] + torch.div(offset, bw, rounding_mode="floor")
    pixel = row * width + col
    pixel, perm = torch.sort(pixel, stable=True)
    return order[local_g[perm]], pixel


def rasterize_torch(
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
    """Render Gaussians: means [N, 3] (world), scales [N, 3] (activated), quats [N, 4] (w, x, y, z), opacities [N]
    (activated), colors [N, C] → RasterOutput (image [C, H, W] over `background` [C] (zeros if None), alpha, depth
    [1, H, W], radii [N], means2d [N, 2] (its .grad after backward is the densification statistic), and
    `features` [N, F] splatted with gradient-free weights → [F, H, W] when given)."""
    settings = settings or RasterSettings()
    width, height = camera.width, camera.height
    proj = project_gaussians(
        means, scales, quats, camera.viewmat, camera.intrinsics, width, height,
        settings.near, settings.eps2d, settings.radius_sigma,
    )  # fmt: skip
    means2d = proj.means2d
    if means2d.requires_grad:
        means2d.retain_grad()
    n_pixels = width * height
    channels = colors.shape[-1]
    keep = proj.valid & (proj.radius > 0)
    idx = keep.nonzero()[:, 0]
    order = idx[torch.argsort(proj.depth.detach()[idx], stable=True)]
    gauss, pixel = _pairs(means2d, proj.radius, order, width, height)
    if pixel.numel() > settings.max_pairs:
        raise RuntimeError(
            f"torch rasteriser: {pixel.numel()} Gaussian-pixel pairs exceed max_pairs={settings.max_pairs}; "
            "render smaller images, prune large Gaussians, or use the gsplat backend on CUDA"
        )
    radii = torch.zeros_like(proj.radius)
    covered = torch.zeros(means.shape[0], dtype=torch.bool, device=means.device)
    covered[gauss] = True
    radii[covered] = proj.radius[covered]

    col = (pixel % width).to(means.dtype) + 0.5
    row = torch.div(pixel, width, rounding_mode="floor").to(means.dtype) + 0.5
    # gathers by index_select, not tensor[gauss]: its backward (index_add) is deterministic with several CPU
    # threads (advanced indexing's index_put with accumulate is not) and faster
    centre = means2d.index_select(0, gauss)
    dx, dy = col - centre[:, 0], row - centre[:, 1]
    a, b, c = proj.conic.index_select(0, gauss).unbind(-1)
    power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
    opacity = opacities.reshape(-1).index_select(0, gauss)
    alpha = torch.clamp(opacity * torch.exp(power.clamp(max=0.0)), max=settings.alpha_max)
    valid = alpha >= settings.alpha_min
    log_t = torch.where(valid, torch.log1p(-alpha), torch.zeros_like(alpha)).double()
    inclusive = torch.cumsum(log_t, 0)
    exclusive = inclusive - log_t
    first = torch.ones_like(pixel, dtype=torch.bool)
    first[1:] = pixel[1:] != pixel[:-1]
    segment = torch.cumsum(first.long(), 0) - 1
    base = exclusive[first].index_select(0, segment)
    transmittance = torch.exp(exclusive - base).to(means.dtype)  # T before this Gaussian
    with torch.no_grad():  # the walk stops before the Gaussian that would push T below T_min
        contributes = valid & (transmittance * (1 - alpha) >= settings.t_min)
    weight = torch.where(contributes, alpha * transmittance, torch.zeros_like(alpha))  # [K]

    def splat(values: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        out = values.new_zeros(n_pixels, values.shape[-1])
        return out.index_add(0, pixel, w[:, None] * values.index_select(0, gauss))

    acc = splat(torch.cat((colors, proj.depth[:, None]), dim=-1), weight)  # [P, C + 1]
    alpha_img = means.new_zeros(n_pixels).index_add(0, pixel, weight)
    image = acc[:, :channels]
    if background is not None:
        image = image + (1 - alpha_img)[:, None] * background.reshape(1, channels).to(image.dtype)
    out = RasterOutput(
        image=image.T.reshape(channels, height, width),
        alpha=alpha_img.reshape(1, height, width),
        depth=acc[:, channels].reshape(1, height, width),
        radii=radii,
        means2d=means2d,
    )
    if features is not None:
        f = splat(features, weight.detach())
        out.features = f.T.reshape(features.shape[-1], height, width)
    return out

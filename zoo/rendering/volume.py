"""Volume rendering of RaySamples through a field with nerfacc (batched on CPU, packed on CUDA) and compositing.

Per ray: w_i = T_i·(1 − exp(−σ_i δ_i)), T_i = exp(−Σ_{j<i} σ_j δ_j); colour Σ w_i c_i, opacity Σ w_i, depth Σ w_i t_i,
uncertainty Σ w_i u_i, and ER-NeRF's unweighted ambient sums Σ amb_aud_i, Σ amb_eye_i over shaded samples.
Head over torso/background: C = Σ w_i c_i + (1 − Σ w_i)·C_bg (as ER-NeRF's `nerf_triplane/renderer.py`).
"""

from __future__ import annotations

from collections.abc import Callable

import nerfacc
import torch

from talkzoo.zoo.rendering.samplers import RaySamples

FieldFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]
_OUTPUTS = ("sigma", "rgb", "unc", "amb_aud", "amb_eye")


def render_rays(
    samples: RaySamples, rays_o: torch.Tensor, rays_d: torch.Tensor, field: FieldFn
) -> dict[str, torch.Tensor]:
    """Shade the samples with field(x [M, 3], d [M, 3], ray_indices [M]) → {sigma [M], rgb [M, 3], unc [M],
    amb_aud [M], amb_eye [M]} and accumulate per ray → color [R, 3], opacity [R], depth [R], unc [R],
    amb_aud [R], amb_eye [R], samples (number of shaded samples, a python int)."""
    n_rays = samples.n_rays
    if samples.packed:
        ray_indices = samples.ray_indices
        t_mid = (samples.t_starts + samples.t_ends) / 2
        x = rays_o[ray_indices] + rays_d[ray_indices] * t_mid[:, None]
        out = field(x, rays_d[ray_indices], ray_indices)
        weights, _, _ = nerfacc.render_weight_from_density(
            samples.t_starts, samples.t_ends, out["sigma"].float(), ray_indices=ray_indices, n_rays=n_rays
        )
        acc = {
            "color": nerfacc.accumulate_along_rays(weights, out["rgb"].float(), ray_indices, n_rays),
            "opacity": nerfacc.accumulate_along_rays(weights, None, ray_indices, n_rays)[:, 0],
            "depth": nerfacc.accumulate_along_rays(weights, t_mid[:, None], ray_indices, n_rays)[:, 0],
            "unc": nerfacc.accumulate_along_rays(weights, out["unc"].float()[:, None], ray_indices, n_rays)[:, 0],
        }
        for name in ("amb_aud", "amb_eye"):
            acc[name] = torch.zeros(n_rays, device=x.device).index_add(0, ray_indices, out[name].float())
        acc["samples"] = int(ray_indices.numel())
        return acc

    mask = samples.mask
    rows, cols = mask.nonzero(as_tuple=True)
    t_mid = (samples.t_starts + samples.t_ends) / 2  # [R, S]
    x = rays_o[rows] + rays_d[rows] * t_mid[rows, cols][:, None]
    out = field(x, rays_d[rows], rows)
    full: dict[str, torch.Tensor] = {}
    for name in _OUTPUTS:
        value = out[name].float()
        buffer = value.new_zeros(mask.shape + value.shape[1:])
        full[name] = buffer.index_put((rows, cols), value)
    weights, _, _ = nerfacc.render_weight_from_density(samples.t_starts, samples.t_ends, full["sigma"])
    return {
        "color": nerfacc.accumulate_along_rays(weights, full["rgb"]),
        "opacity": weights.sum(dim=-1),
        "depth": (weights * t_mid).sum(dim=-1),
        "unc": (weights * full["unc"]).sum(dim=-1),
        "amb_aud": full["amb_aud"].sum(dim=-1),
        "amb_eye": full["amb_eye"].sum(dim=-1),
        "samples": int(rows.numel()),
    }


def composite(color: torch.Tensor, opacity: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """color [R, 3] (premultiplied), opacity [R], background [R, 3] → clamp(color + (1 − opacity)·bg, 0, 1)."""
    return (color + (1 - opacity)[:, None] * background).clamp(0, 1)


def over(rgba: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Straight-alpha layer over a background along the last axis: rgba [..., 4], background [..., 3] → [..., 3]."""
    alpha = rgba[..., 3:]
    return rgba[..., :3] * alpha + background * (1 - alpha)


def composite_portrait(
    head_color: torch.Tensor,
    head_opacity: torch.Tensor,
    torso_rgb: torch.Tensor,
    torso_alpha: torch.Tensor,
    background: torch.Tensor,
) -> torch.Tensor:
    """Full portrait (docs/ernerf.md, "Compositing"): background → torso (straight alpha) → head (premultiplied volume
    render).

    head_color [R, 3] = Σ w c, head_opacity [R] = Σ w, torso_rgb [R, 3], torso_alpha [R], background [R, 3]
    → clamp(head + (1 − Σ w)·(rgb_t·α_t + bg·(1 − α_t)), 0, 1) [R, 3].
    """
    torso_over_bg = over(torch.cat((torso_rgb, torso_alpha[:, None]), dim=-1), background)
    return composite(head_color, head_opacity, torso_over_bg)

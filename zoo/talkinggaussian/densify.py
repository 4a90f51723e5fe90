"""Adaptive density control of a GaussianSet (3DGS, Kerbl et al. 2023, "Adaptive Control of Gaussians", with
TalkingGaussian's schedule and thresholds) and the optimizer surgery it needs: Adam moments follow their Gaussians
through pruning, cloning and splitting.

Statistic: per Gaussian the mean over the views where it was drawn of ‖∂L/∂(screen-space mean)‖ in NDC units
(∂L/∂ndc = ∂L/∂pixel · (W/2, H/2), as diff-gaussian-rasterization reports it).
- clone: statistic ≥ threshold and max scale ≤ percent_dense · extent  → a copy;
- split: statistic ≥ threshold and max scale > percent_dense · extent → 2 children drawn from the parent's Gaussian,
  scales / 1.6, the parent removed;
- prune: opacity < min_opacity, or (when a screen-size limit is given) screen radius > max_screen_radius or max
  scale > big_scale · extent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from talkzoo.zoo.talkinggaussian.covariance import quaternion_to_matrix
from talkzoo.zoo.talkinggaussian.gaussians import ATTRIBUTES, GaussianSet, inverse_sigmoid, inverse_softplus


@dataclass
class DensifyStats:
    """Running statistics since the last densification: grad_sum [N], count [N], max_radii [N]."""

    grad_sum: torch.Tensor
    count: torch.Tensor
    max_radii: torch.Tensor

    @classmethod
    def zeros(cls, n: int, device: torch.device | str) -> DensifyStats:
        z = torch.zeros(n, device=device)
        return cls(z, z.clone(), z.clone())

    def add(self, means2d_grad: torch.Tensor, radii: torch.Tensor, width: int, height: int) -> None:
        """Accumulate one view: means2d_grad [N, 2] (∂L/∂pixel), radii [N] (0 = not drawn)."""
        visible = radii > 0
        scale = torch.tensor([width / 2, height / 2], device=means2d_grad.device, dtype=means2d_grad.dtype)
        norm = (means2d_grad * scale).norm(dim=-1)
        self.grad_sum += torch.where(visible, norm, torch.zeros_like(norm))
        self.count += visible.float()
        self.max_radii = torch.where(visible, torch.maximum(self.max_radii, radii.float()), self.max_radii)

    def mean_grad(self) -> torch.Tensor:
        return self.grad_sum / self.count.clamp(min=1)


def _find_group(optimizer: torch.optim.Optimizer, param: nn.Parameter) -> dict:
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p is param:
                return group
    raise KeyError("parameter not found in the optimizer")


def _replace(
    gaussians: GaussianSet,
    optimizer: torch.optim.Optimizer | None,
    values: dict[str, torch.Tensor],
    state_fn,
) -> None:
    """Replace every attribute with values[name]; the optimizer's per-element state goes through state_fn(old, n)."""
    for name in ATTRIBUTES:
        old = gaussians.parameter(name)
        new = nn.Parameter(values[name].contiguous(), requires_grad=old.requires_grad)
        if optimizer is not None:
            group = _find_group(optimizer, old)
            state = optimizer.state.pop(old, None)
            group["params"] = [new if p is old else p for p in group["params"]]
            if state:
                optimizer.state[new] = {
                    k: state_fn(v) if torch.is_tensor(v) and v.dim() > 0 and v.shape[0] == old.shape[0] else v
                    for k, v in state.items()
                }
        gaussians._parameters[name] = new


@torch.no_grad()
def prune(gaussians: GaussianSet, optimizer: torch.optim.Optimizer | None, remove: torch.Tensor) -> torch.Tensor:
    """Remove the Gaussians where remove [N] is True; returns the keep mask [N]."""
    keep = ~remove
    values = {name: gaussians.parameter(name).data[keep] for name in ATTRIBUTES}
    _replace(gaussians, optimizer, values, lambda v: v[keep])
    return keep


@torch.no_grad()
def append(gaussians: GaussianSet, optimizer: torch.optim.Optimizer | None, values: dict[str, torch.Tensor]) -> None:
    """Add Gaussians (values[name] [M, ...]); their optimizer moments start at zero."""
    merged = {name: torch.cat((gaussians.parameter(name).data, values[name])) for name in ATTRIBUTES}
    m = values["xyz"].shape[0]
    _replace(gaussians, optimizer, merged, lambda v: torch.cat((v, v.new_zeros((m,) + v.shape[1:]))))


@dataclass(frozen=True)
class DensifyConfig:
    """grad_threshold: clone/split threshold on the mean NDC gradient (face 5e-4, mouth 2e-4).
    percent_dense: clone/split size boundary as a fraction of the cameras extent (0.01 in 3DGS; 0.005 here as TG).
    max_screen_radius: px; None disables the size prune (TG: 20 after iteration 3000). big_scale: world-size prune
    (0.1·extent). max_points: cap on the set (new Gaussians go to the largest statistics first); None = no cap."""

    grad_threshold: float = 2e-4
    percent_dense: float = 0.005
    max_screen_radius: float | None = None
    big_scale: float = 0.1
    max_points: int | None = None


@torch.no_grad()
def densify_and_prune(
    gaussians: GaussianSet,
    optimizer: torch.optim.Optimizer | None,
    stats: DensifyStats,
    config: DensifyConfig,
    min_opacity: float,
    extent: float,
    generator: torch.Generator | None = None,
) -> dict[str, int]:
    """One densification round (clone, split, prune); returns the counts {cloned, split, pruned, points}."""
    grads = stats.mean_grad()
    n = gaussians.num_points
    scales = gaussians.activated_scaling()
    max_scale = scales.max(dim=1).values
    big = max_scale > config.percent_dense * extent
    selected = grads >= config.grad_threshold
    room = None if config.max_points is None else max(config.max_points - n, 0)
    clone_mask, split_mask = selected & ~big, selected & big
    if room is not None and int(clone_mask.sum()) + int(split_mask.sum()) > room:
        ranked = torch.where(selected, grads, torch.full_like(grads, -1.0))
        top = ranked.topk(room).indices if room > 0 else ranked.new_zeros(0, dtype=torch.long)
        allowed = torch.zeros_like(selected)
        allowed[top] = True
        clone_mask, split_mask = clone_mask & allowed, split_mask & allowed
    params = {name: gaussians.parameter(name).data for name in ATTRIBUTES}

    # clone
    cloned = {name: params[name][clone_mask] for name in ATTRIBUTES}
    n_clone = int(clone_mask.sum())

    # split: 2 children per parent, positions drawn from the parent's Gaussian
    idx = split_mask.nonzero()[:, 0].repeat(2)
    std = scales[idx]
    noise = torch.randn(std.shape, generator=generator, device="cpu").to(std.device) * std
    rot = quaternion_to_matrix(params["rotation"][idx])
    children = {name: params[name][idx] for name in ATTRIBUTES}
    children["xyz"] = params["xyz"][idx] + (rot @ noise[:, :, None])[:, :, 0]
    children["scaling"] = inverse_softplus(std / (0.8 * 2))

    append(gaussians, optimizer, {name: torch.cat((cloned[name], children[name])) for name in ATTRIBUTES})
    remove = torch.cat((split_mask, torch.zeros(n_clone + idx.numel(), dtype=torch.bool, device=split_mask.device)))

    opacity = gaussians.activated_opacity()
    remove |= opacity < min_opacity
    if config.max_screen_radius is not None:
        radii = torch.cat((stats.max_radii, stats.max_radii.new_zeros(n_clone + idx.numel())))
        world = gaussians.activated_scaling().max(dim=1).values > config.big_scale * extent
        remove |= (radii > config.max_screen_radius) | world
    prune(gaussians, optimizer, remove)
    return {"cloned": n_clone, "split": int(split_mask.sum()), "pruned": int(remove.sum()),
            "points": gaussians.num_points}  # fmt: skip


@torch.no_grad()
def suppress(gaussians: GaussianSet, mask: torch.Tensor, stats: DensifyStats, opacity: float = 0.1) -> None:
    """TalkingGaussian's mouth-branch treatment of background-coloured Gaussians: halve their gradient statistic, set
    their opacity to `opacity` and shrink their (activated) scale ten-fold. The original divides the raw softplus
    scale by 10, which enlarges small Gaussians (raw −5 → −0.5); here the scale itself shrinks."""
    if not bool(mask.any()):
        return
    stats.grad_sum[mask] /= 2
    gaussians.opacity.data[mask] = inverse_sigmoid(torch.full_like(gaussians.opacity.data[mask], opacity))
    gaussians.scaling.data[mask] = inverse_softplus(gaussians.activated_scaling()[mask] / 10)

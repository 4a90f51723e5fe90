"""The rasteriser contract shared by the torch and gsplat paths: settings in, images + screen-space data out."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RasterSettings:
    """Constants of 3DGS's rasteriser (diff-gaussian-rasterization, the fork TalkingGaussian pins).

    near: cull Gaussians with camera z ≤ near (0.2). eps2d: low-pass dilation added to Σ₂'s diagonal (0.3 px²).
    radius_sigma: footprint radius in σ (3). alpha_min: skip contributions below it (1/255). alpha_max: cap (0.99).
    t_min: stop the walk before T drops below it (1e-4). max_pairs: torch path only, refuse larger workloads.
    """

    near: float = 0.2
    eps2d: float = 0.3
    radius_sigma: float = 3.0
    alpha_min: float = 1.0 / 255.0
    alpha_max: float = 0.99
    t_min: float = 1e-4
    max_pairs: int = 60_000_000


@dataclass
class RasterOutput:
    """image [C, H, W] (includes T·background), alpha [1, H, W] = Σ α_i T_i, depth [1, H, W] = Σ z_i α_i T_i,
    radii [N] (int px, 0 = not drawn), means2d [N, 2] (pixel-space means; after backward its .grad is ∂L/∂pixel),
    features [F, H, W] (optional extra channels splatted with gradient-free weights, e.g. attention maps)."""

    image: torch.Tensor
    alpha: torch.Tensor
    depth: torch.Tensor
    radii: torch.Tensor
    means2d: torch.Tensor
    features: torch.Tensor | None = None

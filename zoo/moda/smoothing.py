"""Temporal smoothing of predicted motion (inference only)."""

from __future__ import annotations

import math

import torch


def smooth_time(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian smoothing along time with edge replication. x: [T, ...] → same shape. sigma in frames; ≤ 0: no-op."""
    if sigma <= 0 or x.shape[0] < 2:
        return x
    radius = max(1, int(math.ceil(3 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = (kernel / kernel.sum()).view(1, 1, -1)
    flat = x.reshape(x.shape[0], -1).T[:, None, :]  # [C, 1, T]
    padded = torch.nn.functional.pad(flat, (radius, radius), mode="replicate")
    out = torch.nn.functional.conv1d(padded, kernel)
    return out[:, 0, :].T.reshape(x.shape)

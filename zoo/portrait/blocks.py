"""Convolution blocks shared by the renderer's generator and discriminator."""

from __future__ import annotations

import torch
from torch import nn

NORMS = ("group", "batch", "none")


def norm_layer(kind: str, channels: int) -> nn.Module:
    """GroupNorm (≤ 8 groups; independent of the batch size, AMP-safe), BatchNorm2d (MODA's) or identity."""
    if kind == "group":
        groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {kind!r}")


class ResidualBlock(nn.Module):
    """x → act(x + norm(conv(act(norm(conv(x)))))); 3×3 convolutions, channels and size kept. [B,C,H,W] → same."""

    def __init__(self, channels: int, norm: str = "group") -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
            norm_layer(norm, channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
            norm_layer(norm, channels),
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))

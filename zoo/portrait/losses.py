"""GAN losses of the renderer: LSGAN on the last map of every scale, and discriminator feature matching."""

from __future__ import annotations

import torch


def lsgan(outputs: list[list[torch.Tensor]], real: bool) -> torch.Tensor:
    """Mean over scales of MSE(score map, 1 if real else 0), in float32 (AMP-safe)."""
    target = 1.0 if real else 0.0
    losses = [(features[-1].float() - target).square().mean() for features in outputs]
    return torch.stack(losses).mean()


def feature_matching(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """Mean over scales and intermediate maps (all but the score map) of L1(fake, real.detach()), float32."""
    losses = [
        (f.float() - r.detach().float()).abs().mean()
        for fake_maps, real_maps in zip(fake, real, strict=True)
        for f, r in zip(fake_maps[:-1], real_maps[:-1], strict=True)
    ]
    return torch.stack(losses).mean()

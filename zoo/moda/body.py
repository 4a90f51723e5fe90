"""The output every temporal body returns, and the small MLP block the MODA networks share."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch
from torch import nn


class BodyOutput(NamedTuple):
    """features: [B, T, out_dim]; for a VAE body (ProbAttn) mu, logvar [B, T, latent] of the distribution z was
    drawn from and kl [B, T] (per frame, mean over latent dims) to add to the loss; None for deterministic bodies."""

    features: torch.Tensor
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    kl: torch.Tensor | None = None


class MotionBody(Protocol):
    """What MODA needs of a temporal body (DualAttention, RecurrentBody).

    in_dim: d of x_a and x_s. out_dim: feature size of the output. motion_dim: target motion the training posterior
    reads (0: none). latent_dim: per-frame noise the body samples (0: deterministic).
    """

    in_dim: int
    out_dim: int
    motion_dim: int
    latent_dim: int

    def __call__(
        self,
        audio: torch.Tensor,
        subject: torch.Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        motion: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> BodyOutput: ...


def mlp(sizes: list[int], slope: float = 0.2) -> nn.Sequential:
    """Linear → LayerNorm → LeakyReLU(slope) for every hidden layer, a plain Linear last. Acts on [..., sizes[0]].

    LayerNorm replaces MODA's BatchNorm1d (docs/moda.md, "Fixes" #2): works at batch size 1 and does not depend on
    the batch.
    """
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 2):
        layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.LayerNorm(sizes[i + 1]), nn.LeakyReLU(slope)]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)

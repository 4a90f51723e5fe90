"""Subject encoder: the speaker's normalised mean canonical mesh → a subject code x_s (docs/moda.md, "Network
shapes")."""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.moda.body import mlp


class SubjectEncoder(nn.Module):
    """MLP (LayerNorm, LeakyReLU): subject [B, 478, 3] (or [B, 1434]) → x_s [B, hidden].

    Args:
        num_points: mesh points (478).
        hidden: output size d.
        layers: Linear layers (3 as in MODA).
    """

    def __init__(self, num_points: int = 478, hidden: int = 128, layers: int = 3) -> None:
        super().__init__()
        self.in_dim = num_points * 3
        self.net = mlp([self.in_dim] + [hidden] * layers)

    def forward(self, subject: torch.Tensor) -> torch.Tensor:
        """subject [B, 478, 3] or [B, 1434] → [B, hidden]."""
        return self.net(subject.reshape(subject.shape[0], self.in_dim))

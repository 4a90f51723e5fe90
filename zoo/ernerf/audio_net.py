"""AudioNet (ER-NeRF `nerf_triplane/network.py`): one audio feature window → a 32-d code."""

from __future__ import annotations

import torch
from torch import nn


class AudioNet(nn.Module):
    """[B, C_in, W] → [B, out_dim]: four stride-2 Conv1d (k3) halving the window, then two linear layers.

    Only the first `window` steps are used (ER-NeRF: 16). LeakyReLU(0.02) after every layer but the last.
    """

    def __init__(self, in_dim: int = 29, out_dim: int = 32, window: int = 16) -> None:
        super().__init__()
        self.window = window
        act = nn.LeakyReLU(0.02)
        self.convs = nn.Sequential(
            nn.Conv1d(in_dim, 32, 3, 2, 1), act, nn.Conv1d(32, 32, 3, 2, 1), act,
            nn.Conv1d(32, 64, 3, 2, 1), act, nn.Conv1d(64, 64, 3, 2, 1), act,
        )  # fmt: skip
        self.head = nn.Sequential(nn.Linear(64, 64), act, nn.Linear(64, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x[:, :, : self.window])  # [B, 64, W/16]
        return self.head(h[:, :, 0])

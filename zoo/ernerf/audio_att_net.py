"""AudioAttNet (ER-NeRF `nerf_triplane/network.py`): attention-weighted smoothing of the audio codes of 8
neighbouring frames."""

from __future__ import annotations

import torch
from torch import nn


class AudioAttNet(nn.Module):
    """[B, S, D] codes of S frames → [B, D]: Conv1d 32→16→8→4→2→1 over the sequence, Linear(S→S), softmax."""

    def __init__(self, dim: int = 32, seq_len: int = 8) -> None:
        super().__init__()
        self.seq_len = seq_len
        layers: list[nn.Module] = []
        channels = dim
        while channels > 1:
            layers += [nn.Conv1d(channels, max(channels // 2, 1), 3, 1, 1), nn.LeakyReLU(0.02)]
            channels = max(channels // 2, 1)
        self.convs = nn.Sequential(*layers)
        self.att = nn.Linear(seq_len, seq_len)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        scores = self.convs(codes.transpose(1, 2))[:, 0]  # [B, S]
        weights = torch.softmax(self.att(scores), dim=-1)  # [B, S]
        return (weights[..., None] * codes).sum(dim=1)

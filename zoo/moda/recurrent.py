"""The LSTM baseline body of MODA's ablation (its `feature_decoder: RNN`): GRU "short" + LSTM "long" branches."""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.moda.body import BodyOutput


class RecurrentBody(nn.Module):
    """x = x_a + x_s; a uni-directional GRU run over `chunks` consecutive chunks carrying its hidden state, and a
    uni-directional LSTM over the whole sequence; outputs concatenated → BodyOutput(features [B, T, 2d]).

    Deterministic (mu = logvar = None): no sampling diversity. Unlike the original, any T works (chunks may be
    unequal; torch.chunk splits the remainder).

    Args:
        hidden: d. layers: recurrent layers per branch (3). chunks: GRU chunks (4). dropout: between RNN layers.
    """

    def __init__(self, hidden: int = 128, layers: int = 3, chunks: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_dim, self.out_dim, self.motion_dim, self.latent_dim = hidden, 2 * hidden, 0, 0
        self.chunks = chunks
        self.short = nn.GRU(hidden, hidden, layers, batch_first=True, dropout=dropout)
        self.long = nn.LSTM(hidden, hidden, layers, batch_first=True, dropout=dropout)

    def forward(
        self,
        audio: torch.Tensor,
        subject: torch.Tensor,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        motion: torch.Tensor | None = None,
        noise: torch.Tensor | None = None,
    ) -> BodyOutput:
        """audio [B, T, d], subject [B, d] → features [B, T, 2d]. temperature, generator, motion, noise are
        ignored (deterministic)."""
        x = audio + subject[:, None, :]
        state = None
        short = []
        for piece in torch.chunk(x, min(self.chunks, x.shape[1]), dim=1):
            out, state = self.short(piece, state)
            short.append(out)
        long, _ = self.long(x)
        return BodyOutput(torch.cat([torch.cat(short, dim=1), long], dim=-1))

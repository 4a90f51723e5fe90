"""SpecAttn (MODA `models/componments/networks.py`, `TemporalAlignedBlock`): the one-to-one audio → motion mapping,
a non-autoregressive transformer decoder."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from talkzoo.zoo.moda.positional import biased_causal_mask, periodic_encoding


class AlignedDecoderLayer(nn.Module):
    """Post-norm transformer decoder layer whose cross-attention is under the alignment mask M_A.

    Under M_A frame i attends to memory frame i alone, so its softmax weight is 1 and the cross-attention output is
    out_proj(v_proj(memory_i)): computed here as that per-frame linear map, in O(T) instead of an O(T²) attention
    whose queries and keys cannot matter. Self-attention (mask M_T), ReLU feed-forward, dropout as
    nn.TransformerDecoderLayer.
    """

    def __init__(self, hidden: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.cross_value = nn.Linear(hidden, hidden)
        self.cross_out = nn.Linear(hidden, hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn, hidden))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(3))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x [B, T, d], memory [B, T, d], mask float [T, T] (M_T) → [B, T, d]."""
        attended = self.self_attn(x, x, x, attn_mask=mask, need_weights=False)[0]
        x = self.norms[0](x + F.dropout(attended, self.dropout, self.training))
        cross = self.cross_out(F.dropout(self.cross_value(memory), self.dropout, self.training))
        x = self.norms[1](x + F.dropout(cross, self.dropout, self.training))
        return self.norms[2](x + F.dropout(self.ff(x), self.dropout, self.training))


class SpecAttn(nn.Module):
    """Transformer decoder with periodic positional encoding, alignment mask M_A and biased causal mask M_T.

    tgt = Dropout(x_a + x_s + PPE), memory = x_a; self-attention under M_T (causal, ALiBi-like period bias),
    cross-attention under M_A (frame i sees only audio frame i; see AlignedDecoderLayer). Post-norm, ReLU.

    Args:
        hidden: d. heads: attention heads. layers: decoder layers. ffn: feed-forward size (MODA: = d).
        dropout: layer and encoding dropout. period: PPE and bias period in frames (= fps). slope: M_T bias slope.
    """

    def __init__(
        self,
        hidden: int = 128,
        heads: int = 4,
        layers: int = 3,
        ffn: int = 128,
        dropout: float = 0.1,
        period: int = 25,
        slope: float = 2.0**-8,
    ) -> None:
        super().__init__()
        self.hidden, self.period, self.slope = hidden, period, slope
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(AlignedDecoderLayer(hidden, heads, ffn, dropout) for _ in range(layers))

    def forward(self, audio: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """audio x_a [B, T, d], subject x_s [B, d] → [B, T, d]."""
        length, device = audio.shape[1], audio.device
        pe = periodic_encoding(length, self.hidden, self.period, device).to(audio.dtype)
        x = self.dropout(audio + subject[:, None, :] + pe[None])
        mask = biased_causal_mask(length, self.period, self.slope, device).to(audio.dtype)
        for layer in self.layers:
            x = layer(x, audio, mask)
        return x

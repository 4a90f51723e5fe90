"""Positional encodings and attention masks of SpecAttn / ProbAttn (docs/moda.md, "Network shapes"), any sequence
length."""

from __future__ import annotations

import math

import torch


def sinusoid_table(length: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """Standard sinusoidal encoding [length, dim]: sin at even channels, cos at odd, frequencies 10000^(-2i/dim)."""
    position = torch.arange(length, dtype=torch.float32, device=device)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=device) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim, device=device)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div)[:, : dim // 2]
    return table


def periodic_encoding(length: int, dim: int, period: int, device: torch.device | None = None) -> torch.Tensor:
    """Periodic positional encoding (PPE) [length, dim]: row t is the sinusoid of t mod period (period = fps)."""
    table = sinusoid_table(period, dim, device)
    index = torch.arange(length, device=device) % period
    return table[index]


def biased_causal_mask(length: int, period: int, slope: float, device: torch.device | None = None) -> torch.Tensor:
    """M_T, float [length, length]: -inf where j > i (future), else -slope · floor((i - j) / period).

    FaceFormer's period-stepped ALiBi bias; MODA uses slope 2**-8 (effectively a pure causal mask).
    """
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(length, device=device)[None, :]
    bias = -slope * torch.div(i - j, period, rounding_mode="floor").float()
    return bias.masked_fill(j > i, float("-inf"))


def alignment_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """M_A, bool [length, length]: True (masked) where i != j, so frame i attends only to audio frame i."""
    eye = torch.eye(length, dtype=torch.bool, device=device)
    return ~eye


def causal_mask(length: int, device: torch.device | None = None) -> torch.Tensor:
    """bool [length, length]: True (masked) where j > i."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)

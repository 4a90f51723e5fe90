"""Temporal positional embedding (TPE) of the portrait renderer (docs/moda.md, "Condition images and TPE"), one
formula for training, validation and inference (the public code used 1 + i/1000 in training and i/1000 at inference:
docs/moda.md, "Fixes" #9).

t = index / scale;  TPE(t) = [t, sin(2^k t), cos(2^k t) for k < octaves]  → 1 + 2·octaves constant planes.
The index is a train-frame id: it lets the per-speaker renderer recall frame-specific appearance. Frames beyond the
train range (val frames, long generated videos) are mapped back into it by `tpe_index` (ping-pong), so the network
never sees an embedding it was not trained on.
"""

from __future__ import annotations

import numpy as np
import torch


def tpe_channels(octaves: int) -> int:
    """Number of TPE planes: 1 + 2·octaves (13 for MODA's 6 octaves)."""
    return 1 + 2 * octaves


def tpe_index(frames: np.ndarray | torch.Tensor | int, num_train: int) -> np.ndarray:
    """Frame numbers [N] (any non-negative int) → train-frame ids [N] in [0, num_train): identity on the train range,
    then ping-pong (0, 1, …, n−1, n−2, …, 1, 0, 1, …) so neighbouring frames keep neighbouring ids."""
    frames = np.asarray(frames.cpu() if isinstance(frames, torch.Tensor) else frames, dtype=np.int64)
    if num_train <= 1:
        return np.zeros_like(frames)
    period = 2 * (num_train - 1)
    phase = np.mod(frames, period)
    return np.where(phase < num_train, phase, period - phase)


def tpe_planes(index: torch.Tensor, height: int, width: int, scale: float = 1000.0, octaves: int = 6) -> torch.Tensor:
    """index [B] (train-frame ids) → float32 [B, 1 + 2·octaves, height, width] constant planes."""
    t = index.to(torch.float32).reshape(-1, 1) / scale
    freqs = 2.0 ** torch.arange(octaves, device=t.device, dtype=torch.float32)
    angles = t * freqs
    values = torch.cat([t, torch.sin(angles), torch.cos(angles)], dim=1)
    return values[:, :, None, None].expand(-1, -1, height, width)

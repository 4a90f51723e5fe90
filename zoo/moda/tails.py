"""The four output tails: fused body features → lips 40×3, eyes 60×3, head 7, torso 18×3 (docs/moda.md, "Network
shapes")."""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.moda.body import mlp

PART_SHAPES: dict[str, tuple[int, ...]] = {"lips": (40, 3), "eyes": (60, 3), "head": (7,), "torso": (18, 3)}
"""Per-frame shape of each motion part (normalised per speaker)."""


class MotionTails(nn.Module):
    """Per-frame MLP tails: features [B, T, in_dim] → {part: [B, T, *PART_SHAPES[part]]}.

    Lips: Linear(in, lips_hidden) → LN → LReLU → Linear(·, 120). Eyes, head, torso: two hidden layers of `hidden`.
    """

    def __init__(self, in_dim: int = 256, lips_hidden: int = 512, hidden: int = 256) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.heads = nn.ModuleDict()
        for part, shape in PART_SHAPES.items():
            out = int(torch.tensor(shape).prod())
            sizes = [in_dim, lips_hidden, out] if part == "lips" else [in_dim, hidden, hidden, out]
            self.heads[part] = mlp(sizes)

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """features [B, T, in_dim] → dict of [B, T, *shape] per part."""
        lead = features.shape[:2]
        return {part: head(features).view(*lead, *PART_SHAPES[part]) for part, head in self.heads.items()}

"""ER-NeRF's bias-free MLP: Linear layers with ReLU between them and no activation after the last."""

from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Module):
    """[M, in_dim] → [M, out_dim] through `layers` bias-free linear layers of width `hidden`."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in zip(dims[:-1], dims[1:], strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, linear in enumerate(self.linears):
            x = linear(x)
            if i < len(self.linears) - 1:
                x = torch.relu(x)
        return x

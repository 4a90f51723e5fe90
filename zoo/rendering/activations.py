"""Density activation safe under mixed precision (docs/ernerf.md, "Quirks" #5: plain exp overflowing to inf/NaN)."""

from __future__ import annotations

import torch
from torch.autograd import Function

_CLAMP = 15.0


class _TruncExp(Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = x.float()
        ctx.save_for_backward(x)
        return torch.exp(x.clamp(max=_CLAMP))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(-_CLAMP, _CLAMP))


def trunc_exp(x: torch.Tensor) -> torch.Tensor:
    """exp(min(x, 15)) computed in fp32, with the gradient exp(clamp(x, −15, 15)): any [*] → fp32 [*], finite."""
    return _TruncExp.apply(x)

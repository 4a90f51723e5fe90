"""The renderer's generator (moda.md §5): a residual U-Net over concat(condition, reference, TPE).

Level i (0 = outermost) halves the size: down = Conv3×3 s2 → norm (not at level 0) → ReLU → ResidualBlock; up =
nearest ×2 → Conv3×3 → norm → ReLU → ResidualBlock, and skips concatenate. The outermost up is nearest ×2 → Conv3×3
(2·ngf → out) → tanh. Channels at level i: min(ngf·2^i, max_channels). MODA: ngf 64, 8 levels, 512 max, BatchNorm
(≈ 76 M parameters at 512²); GroupNorm is the default here (batch-size independent).
"""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.portrait.blocks import ResidualBlock, norm_layer


class UNetGenerator(nn.Module):
    """[B, in_channels, H, W] in [-1, 1] → [B, out_channels, H, W] in (-1, 1); H and W divisible by 2^num_downs.

    Args:
        in_channels: 3 condition + 3 reference + TPE planes (19 for MODA). out_channels: 3 (RGB).
        ngf: channels of the outermost level. num_downs: levels (stride-2 steps). max_channels: channel cap.
        norm: "group", "batch" or "none".
    """

    def __init__(
        self,
        in_channels: int = 19,
        out_channels: int = 3,
        ngf: int = 64,
        num_downs: int = 8,
        max_channels: int = 512,
        norm: str = "group",
    ) -> None:
        super().__init__()
        if num_downs < 1:
            raise ValueError(f"num_downs must be ≥ 1, got {num_downs}")
        self.in_channels, self.num_downs = in_channels, num_downs
        ch = [min(ngf * 2**i, max_channels) for i in range(num_downs)]
        self.down = nn.ModuleList()
        for i in range(num_downs):
            layers: list[nn.Module] = [nn.Conv2d(in_channels if i == 0 else ch[i - 1], ch[i], 3, 2, 1, bias=i == 0)]
            if i > 0:
                layers.append(norm_layer(norm, ch[i]))
            layers += [nn.ReLU(inplace=True), ResidualBlock(ch[i], norm)]
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in range(num_downs - 1, 0, -1):  # level i up-samples to level i-1's size and channels
            inner = ch[i] if i == num_downs - 1 else 2 * ch[i]
            self.up.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(inner, ch[i - 1], 3, padding=1, bias=norm == "none"),
                    norm_layer(norm, ch[i - 1]),
                    nn.ReLU(inplace=True),
                    ResidualBlock(ch[i - 1], norm),
                )
            )
        last_in = 2 * ch[0] if num_downs > 1 else ch[0]
        self.out = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(last_in, out_channels, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, in_channels, H, W] → tanh output [B, out_channels, H, W]."""
        step = 2**self.num_downs
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(f"input {x.shape[-2]}x{x.shape[-1]} must be divisible by 2^num_downs = {step}")
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()  # the innermost output is x itself
        for layer in self.up:
            x = torch.cat([layer(x), skips.pop()], dim=1)
        return torch.tanh(self.out(x))

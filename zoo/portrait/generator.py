"""The renderer's generator (MODA `models/componments/render_G.py`): a residual U-Net over concat(condition,
reference, TPE).

Level i (0 = outermost) halves the size: down = Conv3×3 s2 → norm (not at level 0) → ReLU → ResidualBlock; up =
×2 upsampling → Conv3×3 → norm → ReLU → ResidualBlock, and skips concatenate. The outermost up is ×2 upsampling →
Conv3×3 (2·ngf → out) → tanh. Channels at level i: min(ngf·2^i, max_channels). MODA: ngf 64, 8 levels, 512 max,
BatchNorm, nearest upsampling (≈ 76 M parameters at 512²); GroupNorm is the default here (batch-size independent).

Two options depart from MODA (both off by default = MODA's network; docs/moda.md, "Renderer on real video"):
- `full_resolution`: MODA's first layer is already stride 2, so every output pixel comes from a half-resolution map
  nearest-upsampled by one 3×3 convolution — at 512² that map is 256², at 96² it is 48² and the output shows its
  2×2 blocks. With the option a full-resolution level is added: a stem Conv3×3 → ReLU (in → ngf) on the input, and
  the outermost up becomes ×2 upsampling → Conv3×3 → norm → ReLU (2·ngf → ngf), concat(stem), Conv3×3 (2·ngf → out).
- `upsample`: "nearest" (MODA) or "bilinear" (no blocky 2×2 copies for the convolution to smooth out).
"""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.portrait.blocks import ResidualBlock, norm_layer

UPSAMPLE = ("nearest", "bilinear")


def _upsample(mode: str) -> nn.Module:
    if mode == "nearest":
        return nn.Upsample(scale_factor=2, mode="nearest")
    return nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)


class UNetGenerator(nn.Module):
    """[B, in_channels, H, W] in [-1, 1] → [B, out_channels, H, W] in (-1, 1); H and W divisible by 2^num_downs.

    Args:
        in_channels: 3 condition + 3 reference + TPE planes (19 for MODA). out_channels: 3 (RGB).
        ngf: channels of the outermost level. num_downs: levels (stride-2 steps). max_channels: channel cap.
        norm: "group", "batch" or "none". upsample: "nearest" (MODA) or "bilinear".
        full_resolution: add a full-resolution stem and skip before the output convolution (see the module doc).
    """

    def __init__(
        self,
        in_channels: int = 19,
        out_channels: int = 3,
        ngf: int = 64,
        num_downs: int = 8,
        max_channels: int = 512,
        norm: str = "group",
        upsample: str = "nearest",
        full_resolution: bool = False,
    ) -> None:
        super().__init__()
        if num_downs < 1:
            raise ValueError(f"num_downs must be ≥ 1, got {num_downs}")
        if upsample not in UPSAMPLE:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLE)}, got {upsample!r}")
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
                    _upsample(upsample),
                    nn.Conv2d(inner, ch[i - 1], 3, padding=1, bias=norm == "none"),
                    norm_layer(norm, ch[i - 1]),
                    nn.ReLU(inplace=True),
                    ResidualBlock(ch[i - 1], norm),
                )
            )
        last_in = 2 * ch[0] if num_downs > 1 else ch[0]
        self.stem: nn.Module | None = None
        if full_resolution:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, ngf, 3, 1, 1), nn.ReLU(inplace=True))
            self.top = nn.Sequential(
                _upsample(upsample),
                nn.Conv2d(last_in, ngf, 3, padding=1, bias=norm == "none"),
                norm_layer(norm, ngf),
                nn.ReLU(inplace=True),
            )
            self.out = nn.Conv2d(2 * ngf, out_channels, 3, 1, 1)
        else:
            self.out = nn.Sequential(_upsample(upsample), nn.Conv2d(last_in, out_channels, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, in_channels, H, W] → tanh output [B, out_channels, H, W]."""
        step = 2**self.num_downs
        if x.shape[-1] % step or x.shape[-2] % step:
            raise ValueError(f"input {x.shape[-2]}x{x.shape[-1]} must be divisible by 2^num_downs = {step}")
        stem = self.stem(x) if self.stem is not None else None
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        skips.pop()  # the innermost output is x itself
        for layer in self.up:
            x = torch.cat([layer(x), skips.pop()], dim=1)
        if stem is not None:
            x = torch.cat([self.top(x), stem], dim=1)
        return torch.tanh(self.out(x))

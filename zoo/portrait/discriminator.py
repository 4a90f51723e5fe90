"""Multi-scale PatchGAN discriminator of the renderer (MODA `render_D.py`, pix2pixHD's): num_d PatchGANs on the input
and its ×2 average-pooled copies, each returning every intermediate feature map (for the feature-matching loss)."""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.portrait.blocks import norm_layer


class PatchDiscriminator(nn.Module):
    """[B, in_channels, H, W] → list of n_layers + 2 feature maps; the last is the patch score map [B, 1, h, w].

    Conv4 s2 → LReLU(0.2); (n_layers − 1) × [Conv4 s2 → norm → LReLU]; Conv4 s1 → norm → LReLU; Conv4 s1 → 1.
    """

    def __init__(
        self, in_channels: int, ndf: int = 64, n_layers: int = 4, max_channels: int = 512, norm: str = "group"
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(in_channels, ndf, 4, 2, 2), nn.LeakyReLU(0.2, True))]
        channels = ndf
        for i in range(1, n_layers + 1):
            out = min(ndf * 2**i, max_channels)
            stride = 2 if i < n_layers else 1
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(channels, out, 4, stride, 2, bias=norm == "none"),
                    norm_layer(norm, out),
                    nn.LeakyReLU(0.2, True),
                )
            )
            channels = out
        blocks.append(nn.Conv2d(channels, 1, 4, 1, 2))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


class MultiscaleDiscriminator(nn.Module):
    """num_d PatchDiscriminators at scales 1, 1/2, 1/4, … (AvgPool 3, stride 2 between scales).

    forward(x [B, in_channels, H, W]) → [num_d][n_layers + 2] feature maps, finest scale first.
    in_channels: generator input channels + 3 (the image judged together with its condition; 22 for MODA).
    """

    def __init__(
        self,
        in_channels: int = 22,
        ndf: int = 64,
        n_layers: int = 4,
        num_d: int = 3,
        max_channels: int = 512,
        norm: str = "group",
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.scales = nn.ModuleList(
            PatchDiscriminator(in_channels, ndf, n_layers, max_channels, norm) for _ in range(num_d)
        )
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        outputs = []
        for i, scale in enumerate(self.scales):
            if i > 0:
                x = self.pool(x)
            outputs.append(scale(x))
        return outputs

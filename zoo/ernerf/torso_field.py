"""ER-NeRF's torso: a 2-D deformable neural field over image-plane coordinates (docs/ernerf.md, "Torso").

Per pixel x ∈ [-1, 1]² (normalised (u, v), see talkzoo.zoo.ernerf.pose_encoding), with one frame's head pose:
    x      = x · shrink                                      (ER-NeRF: torso_shrink 0.8)
    h      = cat(Freq₈(x) [34], Freq₃(projected key points) [42], code [8])              [84]
    x'     = clamp(x + DeformMLP(h), −1, 1)                  (84 → 32 → 32 → 2)
    out    = TorsoMLP(cat(HashGrid2D(x') [32], h))           (116 → 32 → 32 → 4)
    alpha  = stretched σ(out[0]),  rgb = stretched σ(out[1:4])   (straight, not premultiplied)
Individual codes [ind_num, 8] (·0.1 randn): code[frame index] in training, code[0] otherwise.
"""

from __future__ import annotations

import torch
from torch import nn

from talkzoo.zoo.encoders.triplane import HashGrid2D
from talkzoo.zoo.ernerf.mlp import MLP
from talkzoo.zoo.ernerf.pose_encoding import AdaptivePoseEncoding, FrequencyEncoder


def stretched_sigmoid(x: torch.Tensor, eps: float = 0.001) -> torch.Tensor:
    """σ(x)·(1 + 2ε) − ε (ER-NeRF's colour / alpha activation; reaches exactly 0 and 1)."""
    return torch.sigmoid(x) * (1 + 2 * eps) - eps


class TorsoField(nn.Module):
    """The torso field: pixels [N, 2] + one frame's pose → alpha [N], rgb [N, 3].

    Args:
        levels, features, base_resolution, finest_resolution, log2_hashmap_size: the 2-D hash grid
            (ER-NeRF: 16 levels × 2 features, 16 → 2048, 2^16 entries → 32-d).
        pixel_multires: frequencies of the pixel encoding (8 → 34-d). pose_multires: of the key points (3 → 42-d).
        deform_hidden, hidden: widths of the deformation MLP (3 layers) and the torso MLP (3 layers), 32 each.
        ind_num, ind_dim: per-frame individual codes (10000 × 8).
        shrink: pixel coordinates are multiplied by this before everything (0.8).
    """

    def __init__(
        self,
        levels: int = 16,
        features: int = 2,
        base_resolution: int = 16,
        finest_resolution: int = 2048,
        log2_hashmap_size: int = 16,
        pixel_multires: int = 8,
        pose_multires: int = 3,
        deform_hidden: int = 32,
        hidden: int = 32,
        ind_num: int = 10000,
        ind_dim: int = 8,
        shrink: float = 0.8,
    ) -> None:
        super().__init__()
        self.shrink = shrink
        self.pose_encoding = AdaptivePoseEncoding(pose_multires)
        self.pixel_encoder = FrequencyEncoder(2, pixel_multires)
        cond_dim = self.pixel_encoder.output_dim + self.pose_encoding.output_dim + ind_dim
        self.deform_net = MLP(cond_dim, 2, deform_hidden, 3)
        self.grid = HashGrid2D(levels, features, base_resolution, finest_resolution, log2_hashmap_size)
        self.torso_net = MLP(self.grid.output_dim + cond_dim, 4, hidden, 3)
        self.individual_codes = nn.Parameter(torch.randn(ind_num, ind_dim) * 0.1)

    def code(self, index: torch.Tensor | None) -> torch.Tensor:
        """Individual code [1, ind_dim]: codes[index] (index [1]) in training, codes[0] when index is None."""
        if index is None:
            return self.individual_codes[:1]
        if int(index.max()) >= self.individual_codes.shape[0]:
            raise ValueError(
                f"frame index {int(index.max())} ≥ ind_num {self.individual_codes.shape[0]}; raise field.ind_num"
            )
        return self.individual_codes[index.reshape(-1)[:1]]

    def condition(
        self,
        pose: torch.Tensor,
        intrinsics: torch.Tensor,
        box_scale: float | torch.Tensor,
        height: int,
        width: int,
        index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Per-frame conditioning [1, pose_dim + ind_dim]: encoded key points and the individual code."""
        enc_pose = self.pose_encoding(pose.float(), intrinsics.float(), box_scale, height, width)
        return torch.cat((enc_pose, self.code(index)), dim=-1)

    def forward(self, coords: torch.Tensor, condition: torch.Tensor) -> dict[str, torch.Tensor]:
        """coords [N, 2] normalised pixels in [-1, 1], condition [1, C] (from `condition`) → alpha [N], rgb [N, 3],
        deform [N, 2] (the offset dx in shrunk coordinates)."""
        x = coords * self.shrink
        h = torch.cat((self.pixel_encoder(x), condition.expand(x.shape[0], -1)), dim=-1)
        dx = self.deform_net(h)
        warped = (x + dx).clamp(-1, 1)
        out = self.torso_net(torch.cat((self.grid(warped), h), dim=-1))
        out = stretched_sigmoid(out)
        return {"alpha": out[:, 0], "rgb": out[:, 1:4], "deform": dx}

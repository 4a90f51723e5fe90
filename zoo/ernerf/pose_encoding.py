"""Adaptive pose encoding of ER-NeRF's torso (docs/ernerf.md, "Torso"): trainable 3-D key points moved by the head
pose and projected to the image, plus the frequency encoding used for key points and pixel coordinates.

Conventions of this project (they replace ER-NeRF's NGP-converted c2w matrix, the method is the same):
- key points live in the head's NeRF box (x_box = s·X_head, s = the head module's `box_scale`), as homogeneous
  4-vectors a = (x, y, z, w) with a trainable w (ER-NeRF's anchors, init [[0.01, 0.01, 0.1, 1], [-0.1, -0.1, 0.1, 1],
  [0.1, -0.1, 0.1, 1]]);
- the pose maps head → camera (X_cam = R·X_head + t, OpenCV axes), so X_cam = R·(a_xyz / a_w / s) + t;
- the projection uses the intrinsics and lands in the same normalised pixel coordinates as the torso field's
  inputs: u_n = (2u + 1)/W − 1, v_n = (2v + 1)/H − 1 with u = fx·X/Z + cx, v = fy·Y/Z + cy (pixel centres at
  integers, so the image spans [-1, 1]). ER-NeRF divided by z without intrinsics; with intrinsics the key points
  and the pixels share one frame, whatever the focal length.
"""

from __future__ import annotations

import torch
from torch import nn

ANCHOR_INIT = ((0.01, 0.01, 0.1, 1.0), (-0.1, -0.1, 0.1, 1.0), (0.1, -0.1, 0.1, 1.0))


class FrequencyEncoder(nn.Module):
    """[M, D] → [M, D + 2·D·n]: [x, sin(2⁰x), cos(2⁰x), …, sin(2ⁿ⁻¹x), cos(2ⁿ⁻¹x)] (no π factor, as ER-NeRF).

    Within a frequency the sin block comes first, then the cos block, each over the D inputs.
    """

    def __init__(self, input_dim: int, multires: int) -> None:
        super().__init__()
        self.input_dim, self.multires = input_dim, multires
        self.register_buffer("freqs", 2.0 ** torch.arange(multires, dtype=torch.float32), persistent=False)

    @property
    def output_dim(self) -> int:
        return self.input_dim * (1 + 2 * self.multires)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = [x]
        for f in self.freqs.tolist():
            parts += [torch.sin(x * f), torch.cos(x * f)]
        return torch.cat(parts, dim=-1)


def normalised_pixels(pixels: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """pixels [N, 2] (u=col, v=row; centres at integers) → [N, 2] in [-1, 1]: ((2u+1)/W − 1, (2v+1)/H − 1)."""
    size = torch.tensor([width, height], dtype=pixels.dtype, device=pixels.device)
    return (2 * pixels + 1) / size - 1


def project_keypoints(
    anchors: torch.Tensor,
    pose: torch.Tensor,
    intrinsics: torch.Tensor,
    box_scale: float | torch.Tensor,
    height: int,
    width: int,
) -> torch.Tensor:
    """anchors [K, 4] homogeneous in the head box, pose [4, 4] head → camera, intrinsics [4] (fx, fy, cx, cy)
    → projected key points [K, 2] (u_n, v_n) in normalised pixel coordinates (see the module docstring)."""
    head = anchors[:, :3] / anchors[:, 3:] / box_scale  # [K, 3] head frame
    cam = head @ pose[:3, :3].T + pose[:3, 3]  # [K, 3]
    fx, fy, cx, cy = intrinsics.unbind(-1)
    z = cam[:, 2].clamp_min(1e-6)
    u = fx * cam[:, 0] / z + cx
    v = fy * cam[:, 1] / z + cy
    return normalised_pixels(torch.stack((u, v), dim=-1), height, width)


class AdaptivePoseEncoding(nn.Module):
    """Three (K) trainable key points → frequency-encoded projections: [K·2·(1 + 2·multires)] (42 for K=3, n=3).

    `anchor_weights` (the homogeneous w) are regularised towards 1 by the torso loss (ER-NeRF: mean((1 − w)²)).
    """

    def __init__(self, multires: int = 3, anchors: tuple[tuple[float, ...], ...] = ANCHOR_INIT) -> None:
        super().__init__()
        self.anchors = nn.Parameter(torch.tensor(anchors, dtype=torch.float32))
        self.encoder = FrequencyEncoder(2 * len(anchors), multires)

    @property
    def output_dim(self) -> int:
        return self.encoder.output_dim

    @property
    def anchor_weights(self) -> torch.Tensor:
        """[K] the homogeneous w of the key points."""
        return self.anchors[:, 3]

    def keypoints(
        self, pose: torch.Tensor, intrinsics: torch.Tensor, box_scale: float | torch.Tensor, height: int, width: int
    ) -> torch.Tensor:
        """Projected key points [K, 2] of one frame (see `project_keypoints`)."""
        return project_keypoints(self.anchors, pose, intrinsics, box_scale, height, width)

    def forward(
        self, pose: torch.Tensor, intrinsics: torch.Tensor, box_scale: float | torch.Tensor, height: int, width: int
    ) -> torch.Tensor:
        """pose [4, 4], intrinsics [4] of one frame → encoding [1, output_dim]."""
        points = self.keypoints(pose, intrinsics, box_scale, height, width)
        return self.encoder(points.reshape(1, -1))

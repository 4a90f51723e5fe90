"""Cameras for splatting, and the head space the Gaussians live in.

Speaker poses map head → camera (X_cam = R·X_head + t, OpenCV axes: x right, y down, z forward). The Gaussians live
in a normalised head space `world = s·(X_head − c)`, with c the centre of the speaker's canonical mesh and s chosen so
that the mesh's radius is `mesh_radius` (0.09: a face of about 0.2 units, as TalkingGaussian's head space in metres,
so its grid bound 0.15 and size thresholds keep their meaning whatever unit the speaker's tracker used).
In that space the world→camera matrix of a frame is [R, s·(R·c + t)] (a uniform scale leaves the image unchanged).

Pixel convention (the speaker format's, MediaPipe's and datamodules/resize.py's): a point projects to
u = fx·x/z + cx, v = fy·y/z + cy in continuous pixel coordinates, where pixel (row r, col c) covers [c, c + 1) ×
[r, r + 1) and is sampled at its centre (c + 0.5, r + 0.5). gsplat uses the same convention for its K matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class Camera:
    """One pinhole view: viewmat [4, 4] world → camera (OpenCV axes), intrinsics [4] (fx, fy, cx, cy), image size."""

    viewmat: torch.Tensor
    intrinsics: torch.Tensor
    width: int
    height: int

    @property
    def center(self) -> torch.Tensor:
        """Camera centre in world coordinates [3] = −Rᵀt."""
        rotation, translation = self.viewmat[:3, :3], self.viewmat[:3, 3]
        return -rotation.T @ translation

    def K(self) -> torch.Tensor:
        """The 3 × 3 intrinsic matrix."""
        fx, fy, cx, cy = self.intrinsics.unbind(-1)
        zero, one = torch.zeros_like(fx), torch.ones_like(fx)
        return torch.stack((fx, zero, cx, zero, fy, cy, zero, zero, one)).reshape(3, 3)


class HeadSpace(nn.Module):
    """The normalised head space: world = scale·(X_head − centre). Both are buffers saved in checkpoints.

    Args:
        mesh_radius: the canonical mesh's largest distance from its centre, in world units (0.09).
    """

    def __init__(self, mesh_radius: float = 0.09) -> None:
        super().__init__()
        self.mesh_radius = mesh_radius
        self.register_buffer("scale", torch.zeros(()))
        self.register_buffer("centre", torch.zeros(3))

    @property
    def ready(self) -> bool:
        return float(self.scale) > 0

    def fit(self, canonical: np.ndarray) -> None:
        """Set centre and scale from a canonical mesh [..., P, 3] (head frame): centre = its bounding-box centre."""
        points = np.asarray(canonical, dtype=np.float64).reshape(-1, 3)
        centre = (points.min(axis=0) + points.max(axis=0)) / 2
        radius = float(np.linalg.norm(points - centre, axis=-1).max())
        if not np.isfinite(radius) or radius <= 0:
            raise ValueError("the canonical mesh is degenerate (zero extent); the speaker's canonical.npy is broken")
        self.centre.copy_(torch.as_tensor(centre, dtype=torch.float32))
        self.scale.fill_(self.mesh_radius / radius)

    def to_world(self, points: torch.Tensor) -> torch.Tensor:
        """Head-frame points [..., 3] → world [..., 3]."""
        return self.scale * (points - self.centre)

    def viewmat(self, pose: torch.Tensor) -> torch.Tensor:
        """Head → camera pose [4, 4] → world → camera [4, 4]."""
        rotation, translation = pose[:3, :3].float(), pose[:3, 3].float()
        view = torch.eye(4, dtype=torch.float32, device=pose.device)
        view[:3, :3] = rotation
        view[:3, 3] = self.scale * (rotation @ self.centre + translation)
        return view

    def camera(self, pose: torch.Tensor, intrinsics: torch.Tensor, height: int, width: int) -> Camera:
        """The Camera of a frame: pose [4, 4] head → camera, intrinsics [4] at the image size (height, width)."""
        return Camera(self.viewmat(pose), intrinsics.float(), int(width), int(height))

    def cameras_extent(self, poses: np.ndarray) -> float:
        """1.1 × the largest distance of the camera centres [T poses] from their mean, in world units
        (TalkingGaussian's `cameras_extent`, which scales the position learning rate and the size thresholds)."""
        poses = np.asarray(poses, dtype=np.float64)
        centres = -np.einsum("tji,tj->ti", poses[:, :3, :3], poses[:, :3, 3])  # −Rᵀt in the head frame
        world = float(self.scale) * (centres - self.centre.double().numpy())
        spread = float(np.linalg.norm(world - world.mean(axis=0), axis=-1).max())
        return 1.1 * max(spread, 1e-3)

"""Camera rays in the NeRF box of a head: the head's canonical frame scaled by a per-speaker factor s.

Poses map head → camera (X_cam = R·X_head + t, OpenCV axes); box coordinates are x = s·X_head. A pixel (u, v)
(pixel centres at integers) looks along K⁻¹[u, v, 1] in the camera, so in the box
    origin = −s·Rᵀt,  direction = normalise(Rᵀ·K⁻¹[u, v, 1]).
"""

from __future__ import annotations

import numpy as np
import torch


def box_scale(canonical: np.ndarray, margin: float = 1.6) -> float:
    """s such that the head fits the unit box: canonical [..., P, 3] landmarks (head frame) → 1/(margin·max‖X‖).

    The margin leaves room for hair and ears beyond the face mesh.
    """
    points = np.asarray(canonical, dtype=np.float64).reshape(-1, 3)
    return float(1.0 / (margin * np.linalg.norm(points, axis=-1).max()))


def camera_rays(
    pose: torch.Tensor, intrinsics: torch.Tensor, pixels: torch.Tensor, scale: float | torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """pose [B, 4, 4] head→camera, intrinsics [B, 4] (fx, fy, cx, cy), pixels [B, N, 2] (u=col, v=row)
    → rays_o [B, N, 3], rays_d [B, N, 3] (unit) in the box frame."""
    rotation, translation = pose[:, :3, :3], pose[:, :3, 3]
    fx, fy, cx, cy = intrinsics.unbind(-1)
    cam = torch.stack(
        (
            (pixels[..., 0] - cx[:, None]) / fx[:, None],
            (pixels[..., 1] - cy[:, None]) / fy[:, None],
            torch.ones_like(pixels[..., 0]),
        ),
        dim=-1,
    )  # [B, N, 3]
    directions = torch.einsum("bji,bnj->bni", rotation, cam)  # Rᵀ·cam
    directions = directions / directions.norm(dim=-1, keepdim=True)
    origin = -torch.einsum("bji,bj->bi", rotation, translation) * scale  # [B, 3]
    return origin[:, None, :].expand_as(directions), directions


def pixel_grid(height: int, width: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """All pixel centres of an image, row-major: [H·W, 2] as (u=col, v=row)."""
    v, u = torch.meshgrid(
        torch.arange(height, device=device, dtype=torch.float32),
        torch.arange(width, device=device, dtype=torch.float32),
        indexing="ij",
    )
    return torch.stack((u.reshape(-1), v.reshape(-1)), dim=-1)


def ray_aabb(
    rays_o: torch.Tensor, rays_d: torch.Tensor, aabb: torch.Tensor, near: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Slab test: rays [R, 3] against aabb [6] (min xyz, max xyz) → t_min [R], t_max [R], hit [R] (bool).

    t_min is at least `near`; rays that miss get t_min = t_max.
    """
    safe = torch.where(rays_d.abs() < 1e-9, torch.full_like(rays_d, 1e-9), rays_d)
    t0 = (aabb[:3] - rays_o) / safe
    t1 = (aabb[3:] - rays_o) / safe
    t_min = torch.minimum(t0, t1).amax(dim=-1).clamp(min=near)
    t_max = torch.maximum(t0, t1).amin(dim=-1)
    hit = t_max > t_min
    t_max = torch.where(hit, t_max, t_min)
    return t_min, t_max, hit

"""3-D Gaussian covariances and their EWA projection to the image (Zwicker et al. 2002; Kerbl et al. 2023, 3DGS).

Σ₃ = R_q·S·Sᵀ·R_qᵀ                       (S = diag(scale), R_q from the unit quaternion (w, x, y, z))
Σ₂ = J·W·Σ₃·Wᵀ·Jᵀ + ε·I                  (W = the view rotation, ε = 0.3 px² low-pass dilation as 3DGS)
J  = [[fx/z, 0, −fx·t_x/z²], [0, fy/z, −fy·t_y/z²]]   with t_x/z, t_y/z clamped to 1.3× the field of view
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def quaternion_to_matrix(quats: torch.Tensor) -> torch.Tensor:
    """Quaternions [N, 4] (w, x, y, z; normalised here) → rotation matrices [N, 3, 3]."""
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    return torch.stack(
        (
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ),
        dim=-1,
    ).reshape(-1, 3, 3)  # fmt: skip


def covariance_3d(scales: torch.Tensor, quats: torch.Tensor) -> torch.Tensor:
    """scales [N, 3] (activated), quats [N, 4] → Σ₃ [N, 3, 3] = (R S)(R S)ᵀ."""
    m = quaternion_to_matrix(quats) * scales[:, None, :]
    return m @ m.transpose(1, 2)


@dataclass
class Projection:
    """Per-Gaussian screen-space quantities: depth [N] (camera z), means2d [N, 2] (u, v px), conic [N, 3]
    (a, b, c of Σ₂⁻¹ = [[a, b], [b, c]]), radius [N] (int px, 0 = culled), valid [N] (bool)."""

    depth: torch.Tensor
    means2d: torch.Tensor
    conic: torch.Tensor
    radius: torch.Tensor
    valid: torch.Tensor


def project_gaussians(
    means: torch.Tensor,
    scales: torch.Tensor,
    quats: torch.Tensor,
    viewmat: torch.Tensor,
    intrinsics: torch.Tensor,
    width: int,
    height: int,
    near: float = 0.2,
    eps2d: float = 0.3,
    radius_sigma: float = 3.0,
) -> Projection:
    """EWA projection of Gaussians (means [N, 3], scales [N, 3], quats [N, 4]) into a camera (viewmat [4, 4] world →
    camera, intrinsics [4] fx, fy, cx, cy). Culled: camera z ≤ near, a singular Σ₂. The radius is
    ceil(radius_sigma·√λ_max(Σ₂)) as 3DGS (λ_max with its 0.1 floor on the discriminant)."""
    rotation, translation = viewmat[:3, :3], viewmat[:3, 3]
    p = means @ rotation.T + translation
    x, y, z = p.unbind(-1)
    fx, fy, cx, cy = intrinsics.unbind(-1)
    zc = torch.where(z > near, z, torch.full_like(z, near))  # culled ones get a harmless depth
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    lim_x_pos, lim_x_neg = (width - cx) / fx + 0.3 * tan_x, cx / fx + 0.3 * tan_x
    lim_y_pos, lim_y_neg = (height - cy) / fy + 0.3 * tan_y, cy / fy + 0.3 * tan_y
    tx = zc * torch.minimum(torch.maximum(x / zc, -lim_x_neg), lim_x_pos)
    ty = zc * torch.minimum(torch.maximum(y / zc, -lim_y_neg), lim_y_pos)
    zero = torch.zeros_like(zc)
    jac = torch.stack((fx / zc, zero, -fx * tx / (zc * zc), zero, fy / zc, -fy * ty / (zc * zc)), dim=-1).reshape(
        -1, 2, 3
    )
    cov_cam = rotation @ covariance_3d(scales, quats) @ rotation.T
    cov2 = jac @ cov_cam @ jac.transpose(1, 2)
    a = cov2[:, 0, 0] + eps2d
    b = cov2[:, 0, 1]
    c = cov2[:, 1, 1] + eps2d
    det = a * c - b * b
    valid = (z > near) & (det > 0)
    det_safe = torch.where(valid, det, torch.ones_like(det))
    conic = torch.stack((c / det_safe, -b / det_safe, a / det_safe), dim=-1)
    means2d = torch.stack((fx * x / zc + cx, fy * y / zc + cy), dim=-1)
    with torch.no_grad():
        mid = 0.5 * (a + c)
        lam = mid + torch.sqrt(torch.clamp(mid * mid - det, min=0.1))
        radius = torch.ceil(radius_sigma * torch.sqrt(lam.clamp(min=0))).long()
        radius = torch.where(valid, radius, torch.zeros_like(radius))
    return Projection(depth=z, means2d=means2d, conic=conic, radius=radius, valid=valid)

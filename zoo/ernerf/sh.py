"""Real spherical-harmonics encoding of unit directions up to degree 4 (16 coefficients), as ER-NeRF's shencoder."""

from __future__ import annotations

import torch
from torch import nn


class SHEncoder(nn.Module):
    """d [M, 3] unit directions → [M, degree²] real SH basis values (degree 1…4; ER-NeRF: 4 → 16)."""

    def __init__(self, degree: int = 4) -> None:
        super().__init__()
        if not 1 <= degree <= 4:
            raise ValueError(f"SH degree must be 1…4, got {degree}")
        self.degree = degree

    @property
    def output_dim(self) -> int:
        return self.degree**2

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        x, y, z = d.unbind(-1)
        out = [torch.full_like(x, 0.28209479177387814)]
        if self.degree > 1:
            out += [-0.48860251190291987 * y, 0.48860251190291987 * z, -0.48860251190291987 * x]
        if self.degree > 2:
            xx, yy, zz = x * x, y * y, z * z
            out += [
                1.0925484305920792 * x * y,
                -1.0925484305920792 * y * z,
                0.94617469575755997 * zz - 0.31539156525251999,
                -1.0925484305920792 * x * z,
                0.54627421529603959 * (xx - yy),
            ]
        if self.degree > 3:
            out += [
                0.59004358992664352 * y * (3 * xx - yy),
                2.8906114426405538 * x * y * z,
                0.45704579946446572 * y * (5 * zz - 1),
                0.3731763325901154 * z * (5 * zz - 3),
                0.45704579946446572 * x * (5 * zz - 1),
                1.4453057213202769 * z * (xx - yy),
                0.59004358992664352 * x * (xx - 3 * yy),
            ]
        return torch.stack(out, dim=-1)

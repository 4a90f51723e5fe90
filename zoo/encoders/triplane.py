"""Multiresolution 2-D hash grid and the tri-plane encoder (torch-ngp's `gridencoder` semantics), in plain torch.
One implementation for every method: ER-NeRF's head (bound 1, 64 → 512, T = 2^14) and torso grids, and
TalkingGaussian's motion networks (bound 0.15; face 16 → 38.4, mouth 64 → 57.6, T = 2^17, all levels dense).

Per level l: scale_l = base·b^l − 1, vertices per side n_l = ceil(scale_l) + 2, position pos = u·scale_l + 0.5
for u ∈ [0, 1] (align_corners False). A level whose n_l² vertices fit in the table (≤ 2^log2_hashmap_size) is
stored densely (index x + y·n_l); finer levels hash the vertex (x·1 XOR y·2654435761) mod T. Features are
interpolated bilinearly from the four surrounding vertices; points outside [0, 1]² get zero features. Gradients
come from autograd through index_select (exact: the output is linear in the table; deterministic on CPU).
"""

from __future__ import annotations

import math

import torch
from torch import nn

_PRIME = 2654435761
CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))  # (dx, dy) of the four vertices around a point, in summation order


class HashGrid2D(nn.Module):
    """2-D multiresolution hash encoding: [M, 2] in [-bound, bound] → [M, levels·features].

    Args:
        levels: number of resolutions L (ER-NeRF: 12).
        features: features per level F (ER-NeRF: 1).
        base_resolution: coarsest resolution (64).
        finest_resolution: finest resolution (512·bound); per-level growth b = (finest/base)^(1/(L−1)).
        log2_hashmap_size: log2 of the entries per level T (14).
        bound: inputs live in [-bound, bound]².
        init_std: embeddings are drawn uniformly from ±init_std (1e-4).
    """

    def __init__(
        self,
        levels: int = 12,
        features: int = 1,
        base_resolution: int = 64,
        finest_resolution: int = 512,
        log2_hashmap_size: int = 14,
        bound: float = 1.0,
        init_std: float = 1e-4,
    ) -> None:
        super().__init__()
        self.levels, self.features, self.bound = levels, features, bound
        growth = math.exp2(math.log2(finest_resolution / base_resolution) / max(levels - 1, 1))
        table = 2**log2_hashmap_size
        scales, sides, sizes, offsets = [], [], [], [0]
        for level in range(levels):
            scale = math.exp2(level * math.log2(growth)) * base_resolution - 1.0
            side = math.ceil(scale) + 2  # vertices per side: positions reach ceil(scale) + 1
            size = min(table, side * side)
            size = (size + 7) // 8 * 8
            scales.append(scale)
            sides.append(side)
            sizes.append(size)
            offsets.append(offsets[-1] + size)
        self.register_buffer("scales", torch.tensor(scales, dtype=torch.float64), persistent=False)
        self.register_buffer("sides", torch.tensor(sides, dtype=torch.long), persistent=False)
        self.register_buffer("sizes", torch.tensor(sizes, dtype=torch.long), persistent=False)
        # a hashed level's size is a power of two (the table, or 8 when the table is smaller), so "mod size" of
        # the non-negative hash is "& (size − 1)": the same rows, without int64 division (the dense levels'
        # hashed value is discarded by `_index`)
        self.register_buffer("hash_masks", torch.tensor(sizes, dtype=torch.long) - 1, persistent=False)
        self.register_buffer("offsets", torch.tensor(offsets[:-1], dtype=torch.long), persistent=False)
        dense = [side * side <= size for side, size in zip(sides, sizes, strict=True)]
        self.register_buffer("dense", torch.tensor(dense), persistent=False)
        self.num_dense = sum(dense)  # sides grow with the level: the dense levels come first
        assert dense == [True] * self.num_dense + [False] * (levels - self.num_dense)
        self.embeddings = nn.Parameter(torch.empty(offsets[-1], features).uniform_(-init_std, init_std))

    @property
    def output_dim(self) -> int:
        return self.levels * self.features

    def vertex_index(self, level: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Row of `embeddings` holding integer vertex (x, y) of `level` (any shape of int64 tensors)."""
        return self._index(x, y, self.sides[level], self.hash_masks[level], self.dense[level]) + self.offsets[level]

    @staticmethod
    def _index(
        x: torch.Tensor, y: torch.Tensor, side: torch.Tensor, mask: torch.Tensor, dense: torch.Tensor
    ) -> torch.Tensor:
        hashed = torch.bitwise_xor(x, y * _PRIME) & mask
        return torch.where(dense, x + y * side, hashed)

    def _corner_rows(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Rows of the four vertices (x + dx, y + dy), dx, dy in CORNERS order, of lower-left vertices x, y (int64
        [M, L]) → four int64 [M, L]. The same rows as `vertex_index` level by level, with the dense and the hashed
        levels each computed on their own columns and each corner from the shared parts (x + y·side, y·prime): a
        third of the integer work of computing both formulas for every level and corner and picking one."""
        d = self.num_dense
        parts: list[list[torch.Tensor]] = [[] for _ in CORNERS]
        if d > 0:
            side = self.sides[None, :d]
            base = x[:, :d] + y[:, :d] * side + self.offsets[None, :d]
            for rows, (dx, dy) in zip(parts, CORNERS, strict=True):
                rows.append(base + (dx + dy * side))  # vertex (x + dx, y + dy): row x + y·side + dx + dy·side
        if d < self.levels:
            mask, offset = self.hash_masks[None, d:], self.offsets[None, d:]
            xs = (x[:, d:], x[:, d:] + 1)
            y_prime = y[:, d:] * _PRIME
            ys = (y_prime, y_prime + _PRIME)
            for rows, (dx, dy) in zip(parts, CORNERS, strict=True):
                rows.append((torch.bitwise_xor(xs[dx], ys[dy]) & mask) + offset)
        return [torch.cat(rows, dim=1) if len(rows) > 1 else rows[0] for rows in parts]

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """points [M, 2] in [-bound, bound] → features [M, L·F] (level-major)."""
        unit = (points + self.bound) / (2 * self.bound)  # [M, 2] in [0, 1]
        inside = ((unit >= 0) & (unit <= 1)).all(dim=-1)  # [M]
        unit = unit.clamp(0, 1)
        scale = self.scales.to(unit.dtype)
        pos = unit[:, None, :] * scale[None, :, None] + 0.5  # [M, L, 2]
        corner = pos.floor()
        frac = pos - corner  # [M, L, 2]
        corner = corner.long()
        out = 0
        for (dx, dy), index in zip(CORNERS, self._corner_rows(corner[..., 0], corner[..., 1]), strict=True):
            # 1 − frac per corner, not once for two: with points that need a gradient (ER-NeRF's torso deforms
            # them) that keeps the backward's sums, and the trained weights, the same to the bit
            wx = frac[..., 0] if dx else 1 - frac[..., 0]
            wy = frac[..., 1] if dy else 1 - frac[..., 1]
            weight = (wx * wy).to(self.embeddings.dtype)  # [M, L]
            # index_select, not embeddings[index]: its backward (index_add) is deterministic with several CPU
            # threads, advanced indexing's (index_put with accumulate) is not, and it is 2× faster
            rows = self.embeddings.index_select(0, index.reshape(-1)).view(*index.shape, self.features)  # [M, L, F]
            out = out + weight[..., None] * rows
        out = out * inside[:, None, None].to(out.dtype)
        return out.reshape(points.shape[0], self.output_dim)


class TriPlaneEncoder(nn.Module):
    """Three independent 2-D hash grids on the planes xy, yz, xz: [M, 3] → [M, 3·L·F] (ER-NeRF: 36)."""

    def __init__(
        self,
        levels: int = 12,
        features: int = 1,
        base_resolution: int = 64,
        finest_resolution: int = 512,
        log2_hashmap_size: int = 14,
        bound: float = 1.0,
    ) -> None:
        super().__init__()
        args = (levels, features, base_resolution, finest_resolution, log2_hashmap_size, bound)
        self.xy, self.yz, self.xz = HashGrid2D(*args), HashGrid2D(*args), HashGrid2D(*args)

    @property
    def output_dim(self) -> int:
        return 3 * self.xy.output_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x [M, 3] in [-bound, bound]³ → [M, 3·L·F] = cat(xy, yz, xz)."""
        xz = torch.stack((x[:, 0], x[:, 2]), dim=-1)
        return torch.cat((self.xy(x[:, :2]), self.yz(x[:, 1:]), self.xz(xz)), dim=-1)

"""A vectorised z-buffer triangle rasteriser (numpy): which triangle covers each pixel centre, with barycentrics.

Pixel centres are at integer coordinates (OpenCV's convention). Each triangle's bounding box is enumerated at once
for all triangles (one flat candidate list), candidates outside the triangle are dropped, and the nearest one per
pixel wins through `np.minimum.at` on a packed int64 key (quantised depth in the high bits, triangle index in
the low bits), so ties resolve deterministically to the lower triangle index. Triangles whose signed area is not
positive are culled (back-facing: the caller orients camera-facing triangles with positive area).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_INDEX_BITS = 22  # at most 4M triangles
_DEPTH_LEVELS = float(2 ** (62 - _INDEX_BITS) - 1)
_EMPTY = np.iinfo(np.int64).max
_EPS = 1e-7  # barycentric tolerance: shared edges are covered by both triangles (the depth test picks one)


@dataclass(frozen=True)
class Raster:
    """triangle int64 [H, W] (−1 where nothing is drawn); bary float32 [H, W, 3] barycentric weights of the
    triangle's three vertices (0 where nothing is drawn)."""

    triangle: np.ndarray
    bary: np.ndarray

    @property
    def covered(self) -> np.ndarray:
        """bool [H, W]."""
        return self.triangle >= 0


def rasterize(
    xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray, size: tuple[int, int], bias: np.ndarray | None = None
) -> Raster:
    """Nearest visible triangle per pixel.

    xy float [V, 2] projected vertices (pixels); depth float [V] camera Z (larger = farther); triangles int [F, 3];
    size (height, width); bias float [F] or None: added to a triangle's depth for the depth test only (pushes a
    layer behind another it touches, e.g. an eyeball behind the eyelids).
    """
    height, width = size
    xy = np.asarray(xy, dtype=np.float64)
    tri = np.asarray(triangles, dtype=np.int64)
    p0, p1, p2 = xy[tri[:, 0]], xy[tri[:, 1]], xy[tri[:, 2]]
    e1, e2 = p1 - p0, p2 - p0
    area = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    lo = np.ceil(np.minimum(np.minimum(p0, p1), p2) - 1e-9)
    hi = np.floor(np.maximum(np.maximum(p0, p1), p2) + 1e-9)
    lo = np.maximum(lo, 0)
    hi = np.minimum(hi, [width - 1, height - 1])
    box = (hi - lo + 1).astype(np.int64)
    keep = np.nonzero((area > 1e-12) & (box[:, 0] > 0) & (box[:, 1] > 0))[0]
    triangle = np.full(height * width, -1, dtype=np.int64)
    bary = np.zeros((height * width, 3), dtype=np.float32)
    if len(keep) == 0:
        return Raster(triangle.reshape(height, width), bary.reshape(height, width, 3))

    # one candidate per pixel centre of each kept triangle's bounding box
    bw, bh = box[keep, 0], box[keep, 1]
    counts = bw * bh
    owner = np.repeat(np.arange(len(keep)), counts)
    local = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    bw_o = bw[owner]
    px = lo[keep, 0][owner] + (local % bw_o)
    py = lo[keep, 1][owner] + (local // bw_o)

    # barycentrics from per-triangle affine coefficients
    inv = 1.0 / area[keep]
    k0 = p0[keep]
    ke1, ke2 = e1[keep] * inv[:, None], e2[keep] * inv[:, None]
    dx, dy = px - k0[owner, 0], py - k0[owner, 1]
    b1 = dx * ke2[owner, 1] - dy * ke2[owner, 0]
    b2 = dy * ke1[owner, 0] - dx * ke1[owner, 1]
    b0 = 1.0 - b1 - b2
    inside = (b0 >= -_EPS) & (b1 >= -_EPS) & (b2 >= -_EPS)
    owner, px, py, b0, b1, b2 = owner[inside], px[inside], py[inside], b0[inside], b1[inside], b2[inside]

    z = np.asarray(depth, dtype=np.float64)
    tk = tri[keep]
    zc = b0 * z[tk[owner, 0]] + b1 * z[tk[owner, 1]] + b2 * z[tk[owner, 2]]
    if bias is not None:
        zc = zc + np.asarray(bias, dtype=np.float64)[keep][owner]
    z_min, z_max = zc.min(), zc.max()
    scale = _DEPTH_LEVELS / max(z_max - z_min, 1e-9)
    key = (((zc - z_min) * scale).astype(np.int64) << _INDEX_BITS) | owner
    pixel = (py * width + px).astype(np.int64)
    best = np.full(height * width, _EMPTY, dtype=np.int64)
    np.minimum.at(best, pixel, key)
    win = best[pixel] == key
    pixel = pixel[win]
    triangle[pixel] = keep[owner[win]]
    bary[pixel] = np.stack([b0[win], b1[win], b2[win]], axis=1)
    return Raster(triangle.reshape(height, width), bary.reshape(height, width, 3))

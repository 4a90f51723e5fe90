"""Dense backward warps: a precomputed thin-plate-spline motion on a coarse grid, inversion of the face field.

A backward map gives, for every output pixel, the source position to sample (cv2.remap convention: float32
[H, W] x and y maps, pixel centres at integers).
"""

from __future__ import annotations

import cv2
import numpy as np


def _tps_kernel(d2: np.ndarray) -> np.ndarray:
    """U(r) = r² log r² (0 at r = 0) from squared distances."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = d2 * np.log(d2)
    out[d2 <= 0] = 0.0
    return out


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N, M] squared distances between points a [N, 2] and b [M, 2]."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


class PoseWarp:
    """Backward map of a smooth motion given at fixed rest control points (the head pose, neck, torso sway).

    A thin-plate spline through the control points is precomputed once on a G × G grid of rest positions
    (pixel centres of a bilinear upsampling to size²), so a frame costs one small matrix product: the forward
    displacement on the grid. It is inverted there by fixed-point iteration (the motion is near-rigid, so this
    contracts quickly), then upsampled to a full-resolution backward map.
    """

    def __init__(self, rest_points: np.ndarray, size: int, cells: int = 64, iterations: int = 8) -> None:
        self.size = size
        self.cells = min(cells, size)
        self.iterations = iterations
        coords = (np.arange(self.cells) + 0.5) * size / self.cells - 0.5
        gx, gy = np.meshgrid(coords, coords)
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)  # [G², 2]
        c, g = rest_points / size, grid / size
        n = len(c)
        system = np.zeros((n + 3, n + 3))
        system[:n, :n] = _tps_kernel(_sq_dist(c, c)) + 1e-6 * np.eye(n)
        system[:n, n] = 1.0
        system[:n, n + 1 :] = c
        system[n, :n] = 1.0
        system[n + 1 :, :n] = c.T
        basis = np.concatenate([_tps_kernel(_sq_dist(g, c)), np.ones((len(g), 1)), g], axis=1)  # [G², n + 3]
        self._to_grid = (basis @ np.linalg.inv(system)[:, :n]).astype(np.float32)  # [G², n]
        self._grid = grid.reshape(self.cells, self.cells, 2).astype(np.float32)
        axis = np.arange(size, dtype=np.float32)
        self._base = np.stack(np.meshgrid(axis, axis), axis=-1)  # [size, size, 2] identity map

    def backward_map(self, moved_points: np.ndarray) -> np.ndarray:
        """float32 [size, size, 2] (x, y) source position of each output pixel (a cv2.remap map), given where
        the rest control points moved to (moved_points [N, 2])."""
        rest_to_grid = self._to_grid
        forward = (rest_to_grid @ moved_points.astype(np.float32)).reshape(self.cells, self.cells, 2)
        forward -= self._grid  # displacement d(s) on the grid
        q = self._grid
        s = q - forward
        ratio = self.cells / self.size
        for _ in range(self.iterations):
            gx = (s[..., 0] + 0.5) * ratio - 0.5
            gy = (s[..., 1] + 0.5) * ratio - 0.5
            d = cv2.remap(forward, gx, gy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            s = q - d
        back = s - q
        if self.cells != self.size:
            back = cv2.resize(back, (self.size, self.size), interpolation=cv2.INTER_LINEAR)
        return self._base + back


def invert_field(field: np.ndarray, dfield: np.ndarray, iterations: int = 5) -> np.ndarray:
    """Backward displacement of a forward field on a box: for every box pixel q, s − q where s + g(s) = q.

    field: float32 [h, w, 2] forward displacement g on the box's pixels; dfield: float32 [h, w, 2] its diagonal
    derivatives (∂g_x/∂x, ∂g_y/∂y), used as a diagonal Newton preconditioner. Returns float32 [h, w, 2].
    Where the forward map folds or tears (the opening mouth band), the result is some nearby point.
    """
    h, w = field.shape[:2]
    qx, qy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    sx, sy = qx - field[..., 0], qy - field[..., 1]
    for _ in range(iterations):
        g = cv2.remap(field, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        dg = cv2.remap(dfield, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        rx = sx + g[..., 0] - qx
        ry = sy + g[..., 1] - qy
        sx = sx - rx / np.maximum(1.0 + dg[..., 0], 0.1)
        sy = sy - ry / np.maximum(1.0 + dg[..., 1], 0.1)
    return np.stack([sx - qx, sy - qy], axis=-1)


def compose(outer: np.ndarray, inner_disp: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Backward map outer [S, S, 2] followed by a local backward displacement inner_disp [h, w, 2] on box.

    Result [S, S, 2]: outer(p) + inner_disp(outer(p)) where outer(p) falls in the box, outer(p) elsewhere.
    """
    x0, y0, _, _ = box
    local = outer - np.array([x0, y0], dtype=np.float32)
    d = cv2.remap(inner_disp, local, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return outer + d

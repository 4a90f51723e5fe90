"""18 shoulder points (9 per side) from the parsing, lifted into the head's canonical frame (MODA's billboard).

Per frame (image space): the top edge of the torso label, sampled at 9 evenly spaced columns on each side, from the
torso's outer end to just outside the jaw corner; image-left side first. A side without torso is NaN and filled
over time. Lifting: each point is unprojected at the head's depth t_z (a billboard facing the camera) and mapped
into the head frame with the inverse pose, as MODA's `shoulder-billboard` (its
`data_prepare/steps/step6-gen_shoulder_billboard.py`).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import savgol_filter

from talkzoo.datamodules.preprocess.parsing import JAW_LEFT, JAW_RIGHT, TORSO

POINTS_PER_SIDE = 9
EDGE_MARGIN = 0.04  # fraction of the image width kept free at the torso's outer ends and near the jaw


def shoulder_points_2d(labels: np.ndarray, lm: np.ndarray | None) -> np.ndarray:
    """float32 [18, 2] (x, y) pixels of the shoulder contours from labels uint8 [H, W]; NaN where undefined."""
    h, w = labels.shape
    out = np.full((2 * POINTS_PER_SIDE, 2), np.nan, np.float32)
    torso = labels == TORSO
    has = torso.any(axis=0)
    if not has.any():
        return out
    top = np.where(has, torso.argmax(axis=0), h - 1).astype(np.float64)
    cols = np.flatnonzero(has)
    margin = EDGE_MARGIN * w
    if lm is not None:
        inner_l, inner_r = sorted((float(lm[JAW_LEFT, 0]), float(lm[JAW_RIGHT, 0])))
    else:
        inner_l = inner_r = 0.5 * (cols.min() + cols.max())
    sides = ((cols.min() + margin, inner_l - margin), (inner_r + margin, cols.max() - margin))
    for k, (a, b) in enumerate(sides):
        if b - a < 2:
            continue
        xs = np.linspace(a, b, POINTS_PER_SIDE)
        ys = np.interp(xs, np.arange(w), top)
        out[k * POINTS_PER_SIDE : (k + 1) * POINTS_PER_SIDE] = np.stack([xs, ys], axis=1)
    return out


def fill_shoulders(points: np.ndarray, size: int, window: int) -> np.ndarray:
    """[T, 18, 2] with NaN -> interpolated over time (image bottom corners when never seen), smoothed (zero lag)."""
    out = points.astype(np.float64).copy()
    t = np.arange(len(out))
    defaults = np.zeros((2 * POINTS_PER_SIDE, 2))
    defaults[:POINTS_PER_SIDE, 0], defaults[POINTS_PER_SIDE:, 0] = 0.0, size - 1.0
    defaults[:, 1] = size - 1.0
    for p in range(out.shape[1]):
        for c in range(2):
            series = out[:, p, c]
            ok = np.isfinite(series)
            out[:, p, c] = np.interp(t, t[ok], series[ok]) if ok.any() else defaults[p, c]
    if len(out) > window:
        out = savgol_filter(out, window, 2, axis=0, mode="interp")
    return out


def lift_shoulders(points: np.ndarray, pose: np.ndarray, focal: float, cx: float, cy: float) -> np.ndarray:
    """float32 [T, 18, 3] head-frame shoulders from pixels [T, 18, 2] and head→camera poses [T, 4, 4]."""
    pose = pose.astype(np.float64)
    depth = pose[:, 2, 3][:, None]
    cam = np.stack([(points[..., 0] - cx) * depth / focal, (points[..., 1] - cy) * depth / focal], axis=-1)
    cam = np.concatenate([cam, np.broadcast_to(depth[..., None], (*cam.shape[:2], 1))], axis=-1)
    rot, trans = pose[:, :3, :3], pose[:, :3, 3]
    return np.einsum("tji,tpj->tpi", rot, cam - trans[:, None, :]).astype(np.float32)

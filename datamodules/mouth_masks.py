"""Mouth regions from the MediaPipe landmarks (TalkingGaussian's masks without BiSeNet or EasyPortrait).

- inside-mouth mask: the filled inner-lip polygon (landmarks 78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308,
  415, 310, 311, 312, 13, 82, 81, 80, 191), optionally dilated by a few pixels. It replaces the original's parsing
  class 11 (inner mouth) OR the EasyPortrait teeth mask.
- lips rectangle: the square box (side = max(height, width), centred) around the outer-lip contour (the original
  squares the box of the 68-point lips 48–59).
- mouth opening: the inner-lip gap ‖p13 − p14‖ in pixels, the proxy of OpenFace's AU25 (the curricula only use its
  order and percentiles).
Landmarks are image-space pixels in continuous coordinates (pixel (r, c) centred at (c + 0.5, r + 0.5)).
"""

from __future__ import annotations

import cv2
import numpy as np

from talkzoo.zoo.face_indices import LOWER_INNER_LIP_MID, MOUTH_INNER, MOUTH_OUTER, UPPER_INNER_LIP_MID


def polygon_mask(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Filled polygon of points [P, 2] (x, y continuous pixels) → bool [height, width]: the pixels whose centres are
    inside (even-odd rule; exact, unlike cv2.fillPoly, which also takes every pixel an edge passes through)."""
    pts = np.asarray(points, dtype=np.float64)[:, :2]
    mask = np.zeros((height, width), dtype=bool)
    c0, r0 = np.maximum(np.floor(pts.min(axis=0)).astype(int), 0)
    c1, r1 = np.minimum(np.ceil(pts.max(axis=0)).astype(int) + 1, (width, height))
    if c1 <= c0 or r1 <= r0:
        return mask
    px, py = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
    inside = np.zeros(px.shape, dtype=bool)
    for (xa, ya), (xb, yb) in zip(pts, np.roll(pts, -1, axis=0), strict=True):
        crosses = (ya > py) != (yb > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = xa + (py - ya) * (xb - xa) / (yb - ya)
        inside ^= crosses & (px < x_at)
    mask[r0:r1, c0:c1] = inside
    return mask


def inner_mouth_mask(landmarks: np.ndarray, height: int, width: int, dilate: int = 0) -> np.ndarray:
    """The inside of the mouth: landmarks [478, ≥2] → bool [H, W], dilated by `dilate` px (3×3 steps)."""
    mask = polygon_mask(np.asarray(landmarks)[list(MOUTH_INNER), :2], height, width)
    if dilate > 0:
        mask = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=dilate).astype(bool)
    return mask


def lips_rect(landmarks: np.ndarray, height: int, width: int) -> np.ndarray:
    """Square box around the outer lips → int64 [4] (row0, row1, col0, col1), half-open, inside the image."""
    lips = np.asarray(landmarks, dtype=np.float64)[list(MOUTH_OUTER), :2]
    (x0, y0), (x1, y1) = lips.min(axis=0), lips.max(axis=0)
    side = max(x1 - x0, y1 - y0, 1.0)
    xc, yc = (x0 + x1) / 2, (y0 + y1) / 2
    r0, r1 = int(np.floor(yc - side / 2)), int(np.ceil(yc + side / 2))
    c0, c1 = int(np.floor(xc - side / 2)), int(np.ceil(xc + side / 2))
    return np.array(
        [np.clip(r0, 0, height), np.clip(r1, 0, height), np.clip(c0, 0, width), np.clip(c1, 0, width)], dtype=np.int64
    )


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap in pixels: landmarks [..., 478, ≥2] → [...]."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.linalg.norm(lm[..., UPPER_INNER_LIP_MID, :2] - lm[..., LOWER_INNER_LIP_MID, :2], axis=-1)

"""Resize-on-load for frame items: images, label maps, and the geometry that must follow them.

Coordinates are continuous pixels (pixel i covers [i, i + 1), centre i + 0.5), so resizing W → W' maps x → x · W'/W
exactly, for landmarks and for the principal point alike.
"""

from __future__ import annotations

import cv2
import numpy as np


def target_size(size: int | list[int] | tuple[int, int] | None, height: int, width: int) -> tuple[int, int]:
    """(H', W') for a `size` option: None keeps (height, width); an int sets the height and keeps the aspect
    ratio (width rounded); a pair is (H', W')."""
    if size is None:
        return height, width
    if isinstance(size, int):
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        return size, max(1, int(round(width * size / height)))
    if len(size) != 2 or min(size) <= 0:
        raise ValueError(f"size must be an int or [height, width] of positive ints, got {size}")
    return int(size[0]), int(size[1])


def resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 [H, W, C] → [height, width, C]: area averaging when shrinking, bilinear when growing."""
    if image.shape[:2] == (height, width):
        return image
    shrink = height * width < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def resize_labels(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 [H, W] label map → [height, width] by nearest neighbour (no label mixing)."""
    if labels.shape[:2] == (height, width):
        return labels
    return cv2.resize(labels, (width, height), interpolation=cv2.INTER_NEAREST)


def scale_intrinsics(intrinsics: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """float32 [4] (fx, fy, cx, cy) of an image scaled by sx horizontally and sy vertically."""
    return (np.asarray(intrinsics, dtype=np.float32) * np.array([sx, sy, sx, sy], dtype=np.float32)).astype(np.float32)


def scale_landmarks(landmarks: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """float32 [..., 3] image-space landmarks: x · sx, y · sy, z · sx (MediaPipe's z is in units of the width)."""
    return (np.asarray(landmarks, dtype=np.float32) * np.array([sx, sy, sx], dtype=np.float32)).astype(np.float32)

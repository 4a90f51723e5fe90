"""Fast image encoding for the per-frame folders.

PNGs use the UP filter with run-length zlib: ~3x faster than OpenCV's default adaptive filtering on torso layers
and label maps (large constant areas), at similar size.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

_PNG = [
    cv2.IMWRITE_PNG_COMPRESSION, 1,
    cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP,
    cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
]  # fmt: skip


def write_jpeg(path: Path, image: np.ndarray, quality: int, bgr: bool = False) -> None:
    """uint8 [H, W, 3] RGB (BGR when `bgr`) -> JPEG file."""
    if not bgr:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"{path}: JPEG encoding failed")
    path.write_bytes(buf.tobytes())


def write_png(path: Path, image: np.ndarray, bgr: bool = False) -> None:
    """uint8 labels [H, W] or RGBA [H, W, 4] (BGRA when `bgr`) -> PNG file."""
    if image.ndim == 3 and not bgr:
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    ok, buf = cv2.imencode(".png", image, _PNG)
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    path.write_bytes(buf.tobytes())

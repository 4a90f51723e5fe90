"""Background plate: per-pixel mean over frames where the pixel is far from the person, inpainted where the
person always covers it."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

PERSON_MARGIN = 0.02  # pixels closer than this fraction of the size to the person never count as background
INPAINT_SIZE = 128  # inpainting runs at this resolution and is upsampled


class BackgroundAccumulator:
    """Thread-safe running sums: colour sum float32 [H, W, 3] and count float32 [H, W] of background pixels."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.total = np.zeros((size, size, 3), np.float32)
        self.count = np.zeros((size, size), np.float32)
        radius = max(1, int(round(PERSON_MARGIN * size)))
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        self.lock = threading.Lock()

    def add(self, rgb: np.ndarray, labels: np.ndarray) -> None:
        """Count the pixels of rgb uint8 [H, W, 3] that are background (label 0) and away from the person."""
        person = cv2.dilate((labels > 0).astype(np.uint8), self.kernel)
        mask = (person == 0).astype(np.uint8)
        with self.lock:
            cv2.accumulate(rgb, self.total, mask=mask)
            cv2.accumulate(mask, self.count)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "bg_total.npy", self.total)
        np.save(folder / "bg_count.npy", self.count)

    @staticmethod
    def plate_from(folder: Path) -> np.ndarray:
        return background_plate(np.load(folder / "bg_total.npy"), np.load(folder / "bg_count.npy"))


def background_plate(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3]: mean colour where count > 0, Telea-inpainted (at INPAINT_SIZE, upsampled) elsewhere."""
    h, w = count.shape
    seen = count > 0
    mean = np.where(seen[..., None], total / np.maximum(count, 1)[..., None], 0).astype(np.float32)
    plate = np.clip(mean + 0.5, 0, 255).astype(np.uint8)
    if seen.all():
        return plate
    if not seen.any():
        return np.full((h, w, 3), 127, np.uint8)
    small = min(INPAINT_SIZE, h)
    sw = max(1, int(round(w * small / h)))
    img_s = cv2.resize(plate, (sw, small), interpolation=cv2.INTER_AREA)
    hole_s = (cv2.resize((~seen).astype(np.uint8), (sw, small), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    filled = cv2.inpaint(img_s, hole_s, 5, cv2.INPAINT_TELEA)
    filled = cv2.resize(cv2.GaussianBlur(filled, (0, 0), 1.0), (w, h), interpolation=cv2.INTER_CUBIC)
    plate[~seen] = filled[~seen]
    return plate

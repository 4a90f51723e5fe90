"""Lip landmarks measured on images: MediaPipe FaceMesh (static-image mode) → the 40 lip points in pixels.

The image-space counterpart of the model-space lip metrics: renders and ground-truth frames go through the same
detector, so LMD / mouth opening compare like with like (ER-NeRF's LMD uses face_alignment's 68 points;
docs/evaluation.md, "Metrics"). Small
frames are upscaled before detection (FaceMesh misses faces below ~150 px) and the points scaled back.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from talkzoo.zoo.face.mediapipe_models import mediapipe
from talkzoo.zoo.face_indices import LIP_INDICES
from talkzoo.zoo.metrics.landmarks import mouth_opening


class LipTracker:
    """Callable: uint8 RGB [H, W, 3] → float32 [40, 2] lip points (x, y) in pixels of that image, or None.

    Args:
        min_side: frames whose shorter side is below this are upscaled to it for detection.
        static: independent frames (True, for sparse validation frames) or tracking over a video (False).
    """

    def __init__(self, min_side: int = 256, static: bool = True) -> None:
        self.min_side = min_side
        self._mesh = mediapipe().solutions.face_mesh.FaceMesh(
            static_image_mode=static,
            refine_landmarks=True,
            max_num_faces=1,
            min_detection_confidence=0.5,
            min_tracking_confidence=0.5,
        )

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> LipTracker:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        image = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        h, w = image.shape[:2]
        scale = max(1.0, self.min_side / min(h, w))
        if scale > 1.0:
            image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)
        result = self._mesh.process(image)
        if not result.multi_face_landmarks:
            return None
        points = result.multi_face_landmarks[0].landmark
        lips = np.array([(points[i].x * w, points[i].y * h) for i in LIP_INDICES], dtype=np.float32)
        return lips


def track_lips(frames: list[np.ndarray] | np.ndarray, min_side: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Lip points of each frame: (points float32 [N, 40, 2] (NaN where no face), found bool [N])."""
    with LipTracker(min_side=min_side) as tracker:
        found_points = [tracker(frame) for frame in frames]
    found = np.array([p is not None for p in found_points], dtype=bool)
    points = np.full((len(found_points), len(LIP_INDICES), 2), np.nan, dtype=np.float32)
    for i, p in enumerate(found_points):
        if p is not None:
            points[i] = p
    return points, found


def mouth_opening_series(lips: np.ndarray) -> np.ndarray:
    """Inner-lip opening per frame (px) from lips float [N, 40, 2] with NaN rows where no face was found; the gaps
    are interpolated linearly (held at the ends). All NaN when no frame has a face. → float64 [N]."""
    found = ~np.isnan(lips).any(axis=(1, 2))
    opening = np.full(len(lips), np.nan)
    if found.any():
        opening[found] = mouth_opening(torch.from_numpy(lips[found])).numpy()
        t = np.arange(len(lips))
        opening = np.interp(t, t[found], opening[found])
    return opening

"""Lip landmarks measured on images: MediaPipe FaceMesh (static-image or tracking mode, optionally on each image and
its mirror image, averaged) → the 40 lip points in pixels; a video's mouth opening from them, smoothed over frames.

The image-space counterpart of the model-space lip metrics: renders and ground-truth frames go through the same
detector, so LMD / mouth opening compare like with like (ER-NeRF's LMD uses face_alignment's 68 points;
docs/evaluation.md, "Metrics"). Small
frames are upscaled before detection (FaceMesh misses faces below ~150 px) and the points scaled back.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from talkzoo.zoo.face.mediapipe_models import mediapipe
from talkzoo.zoo.face_indices import LIP_INDICES, LIP_MIRROR
from talkzoo.zoo.metrics.landmarks import mouth_opening


class LipTracker:
    """Callable: uint8 RGB [H, W, 3] → float32 [40, 2] lip points (x, y) in pixels of that image, or None.

    Args:
        min_side: frames whose shorter side is below this are upscaled to it for detection.
        static: independent frames (True, for sparse validation frames) or tracking over a video (False).
        mirror: also detect on the horizontally flipped frame (its own FaceMesh, so a video's two streams are each
            tracked) and average the two sets of points, the flipped one mapped back and relabelled
            (`LIP_MIRROR`); where only one finds a face, its points. FaceMesh's errors on a face and on its mirror
            image are partly independent: on the demo's 96² ground-truth frames the measured mouth opening follows
            the exact one at ρ 0.855 from one view and 0.922 from both (docs/evaluation.md). Twice the work.
    """

    def __init__(self, min_side: int = 256, static: bool = True, mirror: bool = False) -> None:
        self.min_side = min_side
        self._meshes = [self._face_mesh(static) for _ in range(2 if mirror else 1)]

    @staticmethod
    def _face_mesh(static: bool) -> Any:
        return mediapipe().solutions.face_mesh.FaceMesh(
            static_image_mode=static,
            refine_landmarks=True,
            max_num_faces=1,
            min_detection_confidence=0.5,
            min_tracking_confidence=0.5,
        )

    def close(self) -> None:
        for mesh in self._meshes:
            mesh.close()

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
        views = [self._detect(self._meshes[0], image, w, h)]
        if len(self._meshes) > 1:
            flipped = self._detect(self._meshes[1], np.ascontiguousarray(image[:, ::-1]), w, h)
            if flipped is not None:
                flipped = flipped[list(LIP_MIRROR)]
                flipped[:, 0] = w - flipped[:, 0]  # pixel column c ↔ w − 1 − c: continuous x ↔ w − x
            views.append(flipped)
        found = [points for points in views if points is not None]
        return np.mean(found, axis=0, dtype=np.float32) if found else None

    @staticmethod
    def _detect(mesh: Any, image: np.ndarray, w: int, h: int) -> np.ndarray | None:
        """The 40 lip points of the first face in image (any size), in pixels of a w × h frame, or None."""
        result = mesh.process(image)
        if not result.multi_face_landmarks:
            return None
        points = result.multi_face_landmarks[0].landmark
        return np.array([(points[i].x * w, points[i].y * h) for i in LIP_INDICES], dtype=np.float32)


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


TRACKER_SMOOTHING: tuple[float, ...] = (0.25, 0.5, 0.25)
"""Weights over frames t − 1, t, t + 1 applied to a video's measured mouth opening. FaceMesh's inner-lip points
jitter from frame to frame on small faces while a speaking mouth changes over several frames, so this smooths the
measurement, not the mouth: on the demo's 96² ground-truth video (1,500 frames) the measured opening follows the
synthetic speaker's exact one at ρ 0.835 raw, 0.875 smoothed, and smoothing the exact opening itself keeps ρ 0.995
with it (docs/evaluation.md, "The tracker sees each frame and its mirror image")."""


def smooth_over_frames(series: np.ndarray, weights: tuple[float, ...] = TRACKER_SMOOTHING) -> np.ndarray:
    """Series float [N] filtered by the symmetric weights (odd length), the ends held (edge padding): → [N]."""
    half = len(weights) // 2
    if len(series) == 0 or half == 0:
        return np.asarray(series, dtype=np.float64)
    padded = np.pad(np.asarray(series, dtype=np.float64), half, mode="edge")
    return np.convolve(padded, np.asarray(weights, dtype=np.float64), mode="valid")


def mouth_opening_series(lips: np.ndarray, smooth: bool = True) -> np.ndarray:
    """Inner-lip opening per frame (px) from lips float [N, 40, 2] with NaN rows where no face was found; the gaps
    are interpolated linearly (held at the ends), then smoothed over frames (TRACKER_SMOOTHING) unless smooth is
    False. All NaN when no frame has a face. → float64 [N]."""
    found = ~np.isnan(lips).any(axis=(1, 2))
    opening = np.full(len(lips), np.nan)
    if found.any():
        opening[found] = mouth_opening(torch.from_numpy(lips[found])).numpy()
        t = np.arange(len(lips))
        opening = np.interp(t, t[found], opening[found])
        if smooth:
            opening = smooth_over_frames(opening)
    return opening

"""Per-frame MediaPipe analysis: 478 face landmarks (tracking mode) and the person matte."""

from __future__ import annotations

import cv2
import numpy as np

from talkzoo.zoo.face.mediapipe_models import face_mesh, selfie_segmentation

PERSON_THRESHOLD = 0.5
SEGMENT_SIZE = 256  # SelfieSegmentation's own input size: feed it that, upsample its matte (saves ~2 ms a frame)


class FrameAnalyzer:
    """FaceMesh (tracking, refined) + SelfieSegmentation over consecutive frames of one video.

    With several faces in the video (`max_faces` > 1) the face kept in each frame is the one closest to the
    previous frame's face, starting with the largest: the largest face track.
    """

    def __init__(self, max_faces: int = 1) -> None:
        self.mesh = face_mesh(max_faces)
        self.segmenter = selfie_segmentation()
        self.previous: np.ndarray | None = None

    def close(self) -> None:
        self.mesh.close()
        self.segmenter.close()

    def landmarks(self, rgb: np.ndarray) -> np.ndarray | None:
        """float32 [478, 3] pixels (x, y, z with z scaled like x) of the tracked face, or None."""
        h, w = rgb.shape[:2]
        result = self.mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        candidates = []
        for face in result.multi_face_landmarks:
            pts = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32)
            pts *= np.array([w, h, w], dtype=np.float32)
            candidates.append(pts)
        if len(candidates) == 1:
            chosen = candidates[0]
        elif self.previous is not None:
            centre = self.previous[:, :2].mean(axis=0)
            chosen = min(candidates, key=lambda c: float(np.linalg.norm(c[:, :2].mean(axis=0) - centre)))
        else:
            chosen = max(candidates, key=lambda c: float(np.ptp(c[:, 0]) * np.ptp(c[:, 1])))
        self.previous = chosen
        return chosen

    def person(self, rgb: np.ndarray) -> np.ndarray:
        """bool [H, W]: pixels of the person (matte > 0.5)."""
        h, w = rgb.shape[:2]
        small = rgb
        if max(h, w) > SEGMENT_SIZE:
            small = cv2.resize(rgb, (SEGMENT_SIZE, SEGMENT_SIZE), interpolation=cv2.INTER_AREA)
        matte = np.asarray(self.segmenter.process(small).segmentation_mask, dtype=np.float32)
        if matte.shape != (h, w):
            matte = cv2.resize(matte, (w, h), interpolation=cv2.INTER_LINEAR)
        return matte > PERSON_THRESHOLD

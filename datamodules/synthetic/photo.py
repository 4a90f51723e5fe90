"""The rest-pose photo: the astronaut portrait cropped to head and shoulders, its face mesh and person matte.

Detection runs once per process at the fixed working resolution (WORK_SIZE) and is scaled to any output size,
so the ground truth is deterministic and identical (up to scale) for every size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from talkzoo.datamodules.assets import load_astronaut

WORK_SIZE = 512
# Square head-and-shoulders crop of the 512² astronaut photo: rows, columns.
CROP_Y0, CROP_X0, CROP_SIDE = 0, 80, 290


@dataclass(frozen=True)
class PhotoDetection:
    """Working-resolution results. image uint8 [S, S, 3] RGB; landmarks float64 [478, 3] pixels (x·W, y·H, z·W);
    matte float32 [S, S] person probability in [0, 1]. S = WORK_SIZE."""

    image: np.ndarray
    landmarks: np.ndarray
    matte: np.ndarray


def cropped_photo(size: int) -> np.ndarray:
    """The head-and-shoulders crop resized to size × size: uint8 [size, size, 3] RGB."""
    crop = load_astronaut()[CROP_Y0 : CROP_Y0 + CROP_SIDE, CROP_X0 : CROP_X0 + CROP_SIDE]
    interp = cv2.INTER_AREA if size < CROP_SIDE else cv2.INTER_CUBIC
    return cv2.resize(crop, (size, size), interpolation=interp)


def _quiet_mediapipe() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@lru_cache(maxsize=1)
def detect_photo() -> PhotoDetection:
    """Face mesh (FaceMesh static, refine_landmarks) and selfie segmentation of the crop at WORK_SIZE."""
    _quiet_mediapipe()
    import mediapipe as mp  # heavy (TensorFlow Lite): on first use, after the logging variables are set

    image = cropped_photo(WORK_SIZE)
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1, min_detection_confidence=0.5
    ) as mesh:
        result = mesh.process(image)
    if not result.multi_face_landmarks:
        raise RuntimeError("MediaPipe found no face in the bundled astronaut photo; check the mediapipe install")
    points = result.multi_face_landmarks[0].landmark
    landmarks = np.array([[p.x * WORK_SIZE, p.y * WORK_SIZE, p.z * WORK_SIZE] for p in points], dtype=np.float64)
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        matte = np.asarray(seg.process(image).segmentation_mask, dtype=np.float32)
    return PhotoDetection(image=image, landmarks=landmarks, matte=np.clip(matte, 0.0, 1.0))

"""MediaPipe legacy `solutions` models (bundled in the 0.10.14 wheel: offline), imported lazily and quietly."""

from __future__ import annotations

import os
from typing import Any


def mediapipe() -> Any:
    """The `mediapipe` module with its C++ logging turned down."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import mediapipe as mp  # heavy (TensorFlow Lite, protobuf): on first use, after the logging variables are set

    return mp


def mediapipe_version() -> str:
    return str(getattr(mediapipe(), "__version__", "unknown"))


def face_detector() -> Any:
    """FaceDetection, full-range model (faces near and far), for the crop pass."""
    return mediapipe().solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)


def face_mesh(max_faces: int = 1) -> Any:
    """FaceMesh in tracking mode with the refined 478-point topology (irises)."""
    return mediapipe().solutions.face_mesh.FaceMesh(
        static_image_mode=False,
        refine_landmarks=True,
        max_num_faces=max_faces,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )


def selfie_segmentation() -> Any:
    """SelfieSegmentation, general model (256², person vs background)."""
    return mediapipe().solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

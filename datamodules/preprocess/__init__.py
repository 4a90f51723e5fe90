"""Preprocessing: one command from a raw talking video to a validated speaker folder (docs/preprocessing.md).

    from talkzoo.datamodules.preprocess import preprocess, PreprocessConfig
    result = preprocess("talk.mp4", "speakers/me", PreprocessConfig(size=512, fps=25, features=("mel",)))

Steps (each recorded in speaker.json provenance; a re-run skips completed ones): crop (face track) → audio →
frames (decode, MediaPipe FaceMesh + SelfieSegmentation, parsing, torso layers, shoulder contours, background
sums) → landmarks (interpolate, smooth) → pose (+ canonical) → blink → shoulders → background → features.
No 3DMM, no BiSeNet, no OpenFace: everything runs offline on CPU. See docs/preprocessing.md.
"""

from talkzoo.datamodules.preprocess.config import FOCAL_FACTOR, PreprocessConfig
from talkzoo.datamodules.preprocess.errors import PreprocessError
from talkzoo.datamodules.preprocess.pipeline import PreprocessResult, preprocess

__all__ = ["FOCAL_FACTOR", "PreprocessConfig", "PreprocessError", "PreprocessResult", "preprocess"]

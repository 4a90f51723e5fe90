"""Parameters of `talkzoo preprocess`, with their documented defaults (docs/preprocessing.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Pinhole default: focal = FOCAL_FACTOR · size, i.e. a 22.6° field of view, close to ER-NeRF's (fovy 21.24°).
FOCAL_FACTOR = 2.5
SUPPORTED_FEATURES = ("mel", "wav2vec2", "hubert")


@dataclass
class PreprocessConfig:
    """Everything that changes the output of `preprocess` (recorded in speaker.json provenance).

    size: output frames are size × size. fps: constant output frame rate (the video is resampled).
    features: audio features to extract ("mel" always added). models: extractor name → HF id or local folder.
    workers: threads for image encoding (and decoding). min_seconds: shortest accepted video.
    max_lost_seconds / max_lost_fraction: the longest stretch / total share of frames without a face.
    av_tolerance_seconds: largest accepted audio/video length difference (smaller ones are trimmed / padded).
    crop_face_ratio: crop side = min(short side, ratio × face box side) (head and shoulders).
    smooth_window: Savitzky-Golay window (frames, odd) of the landmark smoothing (order 2, zero lag);
    pose_window: the same for rotations and translations. focal: pinhole focal in pixels (default FOCAL_FACTOR · size).
    landmark_size: FaceMesh runs on the crop at max(size, min(crop side, landmark_size)) px, its points scaled to
    size (small frames lose lip accuracy). val_seconds: length of the held-out clip at the end of the video
    (speaker.json `val_start`); None: the last 1/11 of the frames, as the ER-NeRF family splits.
    """

    size: int = 512
    fps: float = 25.0
    features: tuple[str, ...] = ("mel",)
    models: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    min_seconds: float = 2.0
    max_lost_seconds: float = 2.0
    max_lost_fraction: float = 0.3
    av_tolerance_seconds: float = 1.0
    crop_face_ratio: float = 4.5
    smooth_window: int = 5
    pose_window: int = 7
    focal: float = 0.0
    jpeg_quality: int = 95
    landmark_size: int = 256
    val_seconds: float | None = None

    def __post_init__(self) -> None:
        self.features = tuple(dict.fromkeys(("mel", *self.features)))
        if self.focal <= 0:
            self.focal = FOCAL_FACTOR * self.size

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = list(self.features)
        return data

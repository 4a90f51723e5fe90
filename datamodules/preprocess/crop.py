"""The face track of the raw video (sampled FaceDetection) and the square crop around it.

Several faces: the largest track is kept (reported in the notes). No face at all, or the face missing for long
stretches of the samples, raises PreprocessError before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from talkzoo.datamodules.media import VideoInfo
from talkzoo.datamodules.preprocess.config import PreprocessConfig
from talkzoo.datamodules.preprocess.decode import CropBox, iter_sampled
from talkzoo.datamodules.preprocess.errors import PreprocessError
from talkzoo.datamodules.preprocess.progress import bar
from talkzoo.zoo.face.mediapipe_models import face_detector

SAMPLE_SECONDS = 0.4  # one detection every 0.4 s of video
DETECT_WIDTH = 640  # detection runs at this width at most
SECOND_FACE_AREA = 0.15  # another face counts when its box is at least this fraction of the largest one


@dataclass
class FaceTrack:
    """Sampled detections. times [S] seconds; boxes [S, 4] (x0, y0, w, h) source pixels of the largest face,
    NaN where none; faces [S] number of faces found; several: samples with a second sizeable face."""

    times: np.ndarray
    boxes: np.ndarray
    faces: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def several(self) -> int:
        return int((self.faces > 1).sum())


def _largest_face(detector: Any, rgb: np.ndarray, info: VideoInfo) -> tuple[tuple[float, ...], int]:
    """(box (x0, y0, w, h) in source pixels of the largest face or NaNs, number of sizeable faces) of one image."""
    found = []
    for det in detector.process(rgb).detections or []:
        b = det.location_data.relative_bounding_box
        found.append((b.xmin * info.width, b.ymin * info.height, b.width * info.width, b.height * info.height))
    if not found:
        return (np.nan,) * 4, 0
    areas = np.array([f[2] * f[3] for f in found])
    return found[int(np.argmax(areas))], int((areas >= SECOND_FACE_AREA * areas.max()).sum())


def track_faces(path: Path, info: VideoInfo, progress: bool = False) -> FaceTrack:
    """Run FaceDetection on every ~SAMPLE_SECONDS of the video: the largest face per sample."""
    every = max(1, int(round(info.fps * SAMPLE_SECONDS)))
    times, boxes, faces = [], [], []
    detector = face_detector()
    try:
        with bar(max(1, info.num_frames // every), "crop (face track)", progress) as pbar:
            for _, t, rgb in iter_sampled(path, every, DETECT_WIDTH):
                box, count = _largest_face(detector, rgb, info)
                times.append(t)
                boxes.append(box)
                faces.append(count)
                pbar.update(1)
    finally:
        detector.close()
    return FaceTrack(np.asarray(times, np.float64), np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(faces))


def longest_gap(missing: np.ndarray) -> tuple[int, int]:
    """(start, length) of the longest run of True in a bool [N] array; (0, 0) when there is none."""
    best, best_start, run, start = 0, 0, 0, 0
    for i, m in enumerate(missing):
        if m:
            if run == 0:
                start = i
            run += 1
            if run > best:
                best, best_start = run, start
        else:
            run = 0
    return best_start, best


def choose_crop(path: Path, info: VideoInfo, track: FaceTrack, cfg: PreprocessConfig) -> CropBox:
    """A square crop centred on the median face box: side = min(short side, crop_face_ratio × face size)."""
    missing = np.isnan(track.boxes[:, 0])
    if missing.all():
        raise PreprocessError(
            f"{path}: no face found in the video ({len(missing)} frames sampled); give a video showing one "
            "talking face, frontal or mildly turned"
        )
    step = float(np.median(np.diff(track.times))) if len(track.times) > 1 else SAMPLE_SECONDS
    start, length = longest_gap(missing)
    if length * step > cfg.max_lost_seconds + step:
        raise PreprocessError(
            f"{path}: the face is lost for {length * step:.1f} s from {track.times[start]:.1f} s (the limit is "
            f"{cfg.max_lost_seconds:g} s); cut those parts out of the video"
        )
    if missing.mean() > cfg.max_lost_fraction:
        raise PreprocessError(
            f"{path}: no face in {100 * missing.mean():.0f}% of the video (the limit is "
            f"{100 * cfg.max_lost_fraction:.0f}%); cut the parts without the face"
        )
    if track.several:
        track.notes.append(
            f"several faces in {100 * track.several / len(missing):.0f}% of the sampled frames; "
            "keeping the largest face track"
        )
    boxes = track.boxes[~missing]
    cx = float(np.median(boxes[:, 0] + boxes[:, 2] / 2))
    cy = float(np.median(boxes[:, 1] + boxes[:, 3] / 2))
    face = float(np.median(np.maximum(boxes[:, 2], boxes[:, 3])))
    side = int(min(info.width, info.height, round(cfg.crop_face_ratio * face)))
    side -= side % 2
    x0 = int(round(min(max(cx - side / 2, 0), info.width - side)))
    y0 = int(round(min(max(cy + 0.15 * side - side / 2, 0), info.height - side)))
    return CropBox(x0, y0, side)

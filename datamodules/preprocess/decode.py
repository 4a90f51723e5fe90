"""Decoding and normalisation with PyAV: constant fps (nearest-in-time resampling), square crop, resize.

Frames stream one at a time; nothing holds the whole video. Corrupt or truncated streams raise PreprocessError.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from talkzoo.datamodules.preprocess.errors import PreprocessError

# A stream may end this many output frames (or this fraction of them) early; the last frame is repeated.
END_TOLERANCE_FRAMES = 3
END_TOLERANCE_FRACTION = 0.02


@dataclass(frozen=True)
class CropBox:
    """Square crop in source pixels: columns [x0, x0 + side), rows [y0, y0 + side)."""

    x0: int
    y0: int
    side: int

    def to_json(self) -> dict[str, int]:
        return {"x0": self.x0, "y0": self.y0, "side": self.side}


def _iter_timed(path: Path) -> Iterator[tuple[float, av.VideoFrame]]:
    """(time in seconds from the first frame, frame) of the first video stream."""
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise PreprocessError(f"{path}: not a readable video ({exc}); give an mp4/mov/mkv/webm file") from exc
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first: float | None = None
        count = 0
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else count / float(stream.average_rate or 25)
                first = t if first is None else first
                count += 1
                yield t - first, frame
        except av.error.FFmpegError as exc:
            raise PreprocessError(f"{path}: the video stream is corrupt ({exc}); re-encode or re-export it") from exc


def iter_sampled(path: Path, every: int, max_width: int) -> Iterator[tuple[int, float, np.ndarray]]:
    """Every `every`-th decoded frame as (source index, time s, uint8 [h, w, 3] RGB at width ≤ max_width)."""
    for index, (t, frame) in enumerate(_iter_timed(path)):
        if index % every:
            continue
        scale = min(1.0, max_width / frame.width)
        w, h = max(2, int(round(frame.width * scale))), max(2, int(round(frame.height * scale)))
        yield index, t, frame.to_ndarray(width=w, height=h, format="rgb24")


def crop_and_resize(crop: CropBox, size: int) -> Callable[[av.VideoFrame], np.ndarray]:
    """A converter av.VideoFrame -> uint8 [size, size, 3] RGB of the crop box (area / linear resampling)."""

    def convert(frame: av.VideoFrame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        h, w = rgb.shape[:2]
        x0, y0 = min(max(crop.x0, 0), max(0, w - crop.side)), min(max(crop.y0, 0), max(0, h - crop.side))
        patch = rgb[y0 : y0 + crop.side, x0 : x0 + crop.side]
        if patch.shape[0] != size or patch.shape[1] != size:
            interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
            patch = cv2.resize(patch, (size, size), interpolation=interp)
        return np.ascontiguousarray(patch)

    return convert


def iter_resampled(
    path: str | os.PathLike[str],
    fps: float,
    num_frames: int,
    convert: Callable[[av.VideoFrame], np.ndarray],
) -> Iterator[np.ndarray]:
    """Exactly `num_frames` converted frames at constant `fps`: output frame i is the source frame nearest to i / fps.

    Duplicates (upsampling) reuse one conversion; dropped frames (downsampling) are never converted.
    Raises PreprocessError when the stream ends early by more than the tolerance (a truncated file).
    """
    path = Path(path)
    out = 0
    prev_t, prev_frame, prev_rgb = 0.0, None, None
    for t, frame in _iter_timed(path):
        while prev_frame is not None and out < num_frames and out / fps <= 0.5 * (prev_t + t):
            if prev_rgb is None:
                prev_rgb = convert(prev_frame)
            yield prev_rgb
            out += 1
        if out >= num_frames:
            return
        prev_t, prev_frame, prev_rgb = t, frame, None
    if prev_frame is None:
        raise PreprocessError(f"{path}: no frame could be decoded; the file is truncated or corrupt")
    missing = num_frames - out
    uncovered = (num_frames - 1) / fps - prev_t  # seconds the last decoded frame would have to stretch over
    if uncovered * fps > max(END_TOLERANCE_FRAMES, END_TOLERANCE_FRACTION * num_frames):
        raise PreprocessError(
            f"{path}: the video stream ends at {prev_t:.2f} s, but the file says {num_frames / fps:.2f} s; "
            "the file is truncated — re-export or re-download it"
        )
    last = convert(prev_frame)
    for _ in range(missing):
        yield last

"""The streaming pass over the video: decode → crop → frames/*.jpg, MediaPipe landmarks and matte, parsing/*.png,
torso/*.png, shoulder contours and background sums. One frame in memory per pipeline slot, never the video.

Decoding runs in a thread (PyAV releases the GIL), FaceMesh in the caller's thread, SelfieSegmentation in a thread
of its own (MediaPipe releases the GIL while its graph runs: the two models side by side take 8.3 instead of 17 ms a
frame on 2 cores, mattes identical), and the per-frame parsing and image encoding in a pool of `workers` threads
(OpenCV releases the GIL), bounded so memory stays flat.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from talkzoo.datamodules.preprocess.background import BackgroundAccumulator
from talkzoo.datamodules.preprocess.config import PreprocessConfig
from talkzoo.datamodules.preprocess.decode import CropBox, crop_and_resize, iter_resampled
from talkzoo.datamodules.preprocess.images import write_jpeg, write_png
from talkzoo.datamodules.preprocess.parsing import parse_frame, torso_rgba
from talkzoo.datamodules.preprocess.progress import bar
from talkzoo.datamodules.preprocess.shoulders import shoulder_points_2d
from talkzoo.datamodules.preprocess.tracking import FrameAnalyzer
from talkzoo.datamodules.speaker import NUM_LANDMARKS, NUM_SHOULDER_POINTS, frame_name

PREFETCH = 8
BACKGROUND_EVERY = 2  # background sums use every 2nd frame (1.2 ms a frame at 512²; the plate does not change)


@dataclass
class FramePassResult:
    """landmarks float32 [T, 478, 3] raw (NaN where no face); shoulders float32 [T, 18, 2] pixels (NaN if unseen)."""

    landmarks: np.ndarray
    shoulders: np.ndarray
    background: BackgroundAccumulator

    @property
    def detected(self) -> np.ndarray:
        return np.isfinite(self.landmarks[:, 0, 0])


def _prefetch(source: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """Run `source` in a daemon thread, `size` items ahead; exceptions re-raise in the consumer."""
    items: queue.Queue = queue.Queue(maxsize=size)
    done = object()
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(exc)
            return
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # closes the video file when the consumer stopped early
        put(done)

    threading.Thread(target=produce, daemon=True).start()
    try:
        while True:
            item = items.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _finish(
    root: Path,
    i: int,
    rgb: np.ndarray,
    matte: Future,
    lm: np.ndarray | None,
    res: FramePassResult,
    quality: int,
) -> None:
    """Per-frame work of the pool: frame JPEG, parsing, torso layer, shoulders, background sums.

    matte: the segmentation thread's future of the person mask (bool [H, W]) for this frame.
    """
    person = matte.result()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    write_jpeg(root / "frames" / frame_name(i, ".jpg"), bgr, quality, bgr=True)
    labels = parse_frame(person, lm)
    write_png(root / "parsing" / frame_name(i, ".png"), labels)
    write_png(root / "torso" / frame_name(i, ".png"), torso_rgba(bgr, labels), bgr=True)
    res.shoulders[i] = shoulder_points_2d(labels, lm)
    if i % BACKGROUND_EVERY == 0:
        res.background.add(rgb, labels)


def run_frame_pass(
    video: Path, root: Path, num_frames: int, crop: CropBox, cfg: PreprocessConfig, max_faces: int, progress: bool
) -> FramePassResult:
    """Write frames/, parsing/, torso/ under root; return raw landmarks, shoulder contours, background sums."""
    for folder in ("frames", "parsing", "torso"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    res = FramePassResult(
        landmarks=np.full((num_frames, NUM_LANDMARKS, 3), np.nan, np.float32),
        shoulders=np.full((num_frames, NUM_SHOULDER_POINTS, 2), np.nan, np.float32),
        background=BackgroundAccumulator(cfg.size),
    )
    # FaceMesh finds lips ~30 % more accurately on the crop at ≥ 256 px than on a small output frame (0.35 vs
    # 0.52 px lip error at 96² on the synthetic speaker): detect at `detect` px, scale the points to `size`.
    detect = max(cfg.size, min(crop.side, cfg.landmark_size))
    frames = _prefetch(iter_resampled(video, cfg.fps, num_frames, crop_and_resize(crop, detect)), PREFETCH)
    analyzer = FrameAnalyzer(max_faces)
    pending: deque[Future] = deque()
    last: np.ndarray | None = None
    try:
        # SelfieSegmentation's graph wants its frames in order from one thread: a pool of exactly one
        with ThreadPoolExecutor(1) as matting, ThreadPoolExecutor(max(1, cfg.workers)) as pool, \
                bar(num_frames, "frames", progress) as pbar:  # fmt: skip
            for i, large in enumerate(frames):
                rgb = large if detect == cfg.size else cv2.resize(large, (cfg.size,) * 2, interpolation=cv2.INTER_AREA)
                matte = matting.submit(analyzer.person, rgb)  # runs while FaceMesh looks at the frame
                lm = analyzer.landmarks(large)
                if lm is not None:
                    lm = lm * np.float32(cfg.size / detect)
                    res.landmarks[i] = lm
                    last = lm
                pending.append(pool.submit(_finish, root, i, rgb, matte, last, res, cfg.jpeg_quality))
                while len(pending) > 2 * max(1, cfg.workers) + 2 or (pending and pending[0].done()):
                    pending.popleft().result()
                    pbar.update(1)
            while pending:
                pending.popleft().result()
                pbar.update(1)
    finally:
        analyzer.close()
    return res

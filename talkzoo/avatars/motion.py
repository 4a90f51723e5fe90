"""Head motion and blink for 3-D avatars (ER-NeRF, and any method rendering a posed head), as per-frame streams.

Two sources, each giving frame t's pose float32 [4, 4] (head → camera, the speaker's units) and blink in [0, 1]:

- `TrainingReplay` (ER-NeRF's novel-audio mode): the training frames replayed ping-pong (0, 1, …, n−1, n−2, …,
  1, 0, 1, …), poses smoothed along that path with a Gaussian of σ = `smooth` frames in the 7-D motion space
  (rotation vector, translation, scale; ER-NeRF's --smooth_path), and their blink values. Independent of the audio:
  no look-ahead.
- `ModaMotion`: MODA's predicted head motion and eye landmarks for the same audio (talkzoo.avatars.moda_motion),
  the head smoothed with σ = `smooth`, blink from the eyes. Blink calibration: the eye opening o = mean over both
  eyes of the upper-to-lower lid distance (landmarks 386–374 and 159–145, canonical units) is measured on the
  speaker's training frames (canonical.npy) and mapped to the training blink values (blink.npy) by least squares,
  blink ≈ a·o + b; predicted openings go through the same map, clipped to [0, 1]. When the training openings do
  not vary (no blink in the clip), every frame gets the mean training blink.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from talkzoo.zoo.face_indices import EYE_INDICES
from talkzoo.zoo.head_motion import HEAD_MOTION_DIM, head_motion_to_pose, pose_to_head_motion

from .moda_motion import MotionStream
from .tracks import GaussianSmoother, Track

LIDS = ((386, 374), (159, 145))  # (upper, lower) lid of the subject's left and right eye, MediaPipe indices


def mirror_indices(count: int, positions: np.ndarray) -> np.ndarray:
    """int64: ping-pong positions 0 … count−1 … 0 … at the given (non-negative) positions (ER-NeRF's mirror_index)."""
    positions = np.asarray(positions, dtype=np.int64)
    if count <= 1:
        return np.zeros_like(positions)
    period = 2 * (count - 1)
    phase = positions % period
    return np.where(phase < count, phase, period - phase).astype(np.int64)


def eye_opening(points: np.ndarray, indices: tuple[int, ...] | None = None) -> np.ndarray:
    """Mean lid gap of both eyes: points [T, P, 3] indexed by `indices` (MediaPipe ids of the P points; None = the
    full 478 mesh) → float32 [T]."""
    position = {m: i for i, m in enumerate(indices)} if indices is not None else None
    gaps = []
    for upper, lower in LIDS:
        a = points[:, position[upper] if position else upper]
        b = points[:, position[lower] if position else lower]
        gaps.append(np.linalg.norm(a - b, axis=-1))
    return np.mean(gaps, axis=0).astype(np.float32)


def fit_blink_calibration(opening: np.ndarray, blink: np.ndarray) -> tuple[float, float]:
    """Least-squares (a, b) with blink ≈ a·opening + b on training frames; (0, mean blink) when either is constant."""
    opening, blink = np.asarray(opening, np.float64), np.asarray(blink, np.float64)
    if opening.std() < 1e-8 * max(1.0, abs(opening.mean())) or blink.std() < 1e-6:
        return 0.0, float(blink.mean())
    a, b = np.polyfit(opening, blink, 1)
    return float(a), float(b)


class PoseSource(ABC):
    """Per-frame head pose and blink of a stream."""

    lookahead_frames: int = 0
    """Frames of audio after frame t that frame t's pose depends on."""

    def reset(self) -> None:  # noqa: B027 (an optional hook: the replay needs none)
        """Start a new stream."""

    def feed(self, samples: np.ndarray) -> None:  # noqa: B027 (an optional hook: the replay needs none)
        """New audio samples (16 kHz) of the stream."""

    def end(self) -> None:  # noqa: B027 (an optional hook: the replay needs none)
        """The audio ended."""

    def advance(self, frames_known: int, total: int | None) -> None:  # noqa: B027 (an optional hook: the replay needs none)
        """New audio arrived (frames_known frames exist; total once the stream ended)."""

    def ready(self, t: int, total: int | None) -> bool:
        return True

    @abstractmethod
    def at(self, t: int, total: int | None) -> tuple[np.ndarray, float]:
        """(pose float32 [4, 4], blink) of frame t; call when `ready(t, total)`."""


class TrainingReplay(PoseSource):
    """The training frames' poses and blinks replayed ping-pong, the pose path smoothed with σ = `smooth` frames.

    poses [N, 4, 4], blink [N] of the whole speaker; train: int [n] the training frame indices."""

    def __init__(self, poses: np.ndarray, blink: np.ndarray, train: np.ndarray, smooth: float = 2.0) -> None:
        train = np.asarray(train, dtype=np.int64)
        self.motion = pose_to_head_motion(np.asarray(poses)[train])  # [n, 7]; rotation vectors are continuous here
        self.blink = np.asarray(blink, dtype=np.float32)[train]
        self.smoother = GaussianSmoother(smooth)

    def at(self, t: int, total: int | None) -> tuple[np.ndarray, float]:
        r = self.smoother.lookahead
        # the path exists for every t ≥ 0 (it does not end with the audio); before 0 it replicates frame 0
        window = mirror_indices(len(self.motion), np.maximum(np.arange(t - r, t + r + 1), 0))
        motion = self.smoother.at(self.motion[window], r, None)
        return head_motion_to_pose(motion), float(self.blink[mirror_indices(len(self.blink), np.array([t]))[0]])


class ModaMotion(PoseSource):
    """Head pose and blink from MODA's motion of the same audio.

    Args:
        stream: the MotionStream (MODA run over the avatar's audio). canonical_train [n, 478, 3] and blink_train [n]:
        the speaker's training meshes and blink values (blink calibration). smooth: extra Gaussian σ (frames) on the
        7-D head motion.
    """

    def __init__(
        self, stream: MotionStream, canonical_train: np.ndarray, blink_train: np.ndarray, smooth: float = 2.0
    ) -> None:
        self.stream = stream
        self.calibration = fit_blink_calibration(eye_opening(np.asarray(canonical_train)), np.asarray(blink_train))
        self.smoother = GaussianSmoother(smooth)
        self.lookahead_frames = stream.frames_lookahead + self.smoother.lookahead
        self.reset()

    def reset(self) -> None:
        self.stream.audio.reset()
        self.stream.reset()
        self.head = Track((HEAD_MOTION_DIM,))
        self.blinks = Track(())

    def feed(self, samples: np.ndarray) -> None:
        self.stream.audio.feed(samples)

    def end(self) -> None:
        self.stream.audio.end()

    def advance(self, frames_known: int, total: int | None) -> None:
        self.stream.advance(frames_known, total)
        a, b = self.calibration
        t = len(self.head)
        while self.stream.ready(t, total) and (total is None or t < total):
            motion = self.stream.at(t, total)
            self.head.append(motion["head"][None])
            opening = eye_opening(motion["eyes"][None], EYE_INDICES)[0]
            self.blinks.append(np.clip(a * opening + b, 0.0, 1.0))
            t += 1

    def ready(self, t: int, total: int | None) -> bool:
        return self.smoother.ready(t, len(self.head), total)

    def at(self, t: int, total: int | None) -> tuple[np.ndarray, float]:
        return head_motion_to_pose(self.smoother.at(self.head.values, t, total)), float(self.blinks[t])

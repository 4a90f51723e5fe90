"""Head motion and blink for ER-NeRF driven by new audio (`talkzoo generate --method ernerf`).

Two sources, both returning poses float32 [T, 4, 4] (head → camera, the speaker's units) and blink float32 [T]:

- "training" (ER-NeRF's novel-audio mode, ernerf.md §8): the training frames replayed ping-pong (0, 1, …, n−1,
  n−2, …, 1, 0, 1, …) for T frames, their poses smoothed along that path (`smooth` = Gaussian σ in frames on the
  7-D motion (rotation vector, translation, scale); ER-NeRF's --smooth_path) and their blink values.
- "moda": MODA's predicted head motion [T, 7] (talkzoo.zoo.head_motion) and blink from MODA's predicted eye landmarks.
  Calibration: the eye opening o = mean over both eyes of the upper-to-lower lid distance (landmarks 386–374 and
  159–145, canonical units) is measured on the speaker's training frames (canonical.npy) and mapped to the
  training blink values (blink.npy) by least squares, blink ≈ a·o + b (a < 0: a closed eye has a small gap);
  predicted openings go through the same map, clipped to [0, 1]. When the training openings do not vary (no
  blink in the clip), a fallback maps the largest training opening to the mean training blink.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from talkzoo.zoo.face_indices import EYE_INDICES
from talkzoo.zoo.head_motion import head_motion_to_pose, pose_to_head_motion

LIDS = ((386, 374), (159, 145))  # (upper, lower) lid of the subject's left and right eye, MediaPipe indices


def mirror_indices(count: int, length: int) -> np.ndarray:
    """int64 [length]: ping-pong positions 0 … count−1 … 0 … into `count` items (ER-NeRF's mirror_index)."""
    if count <= 1:
        return np.zeros(length, dtype=np.int64)
    period = 2 * (count - 1)
    phase = np.arange(length) % period
    return np.where(phase < count, phase, period - phase).astype(np.int64)


def smooth_poses(poses: np.ndarray, sigma: float) -> np.ndarray:
    """poses [T, 4, 4] → [T, 4, 4], Gaussian-smoothed along time (σ in frames) in the 7-D motion space."""
    if sigma <= 0 or len(poses) < 2:
        return np.asarray(poses, dtype=np.float32)
    motion = pose_to_head_motion(poses)  # rotation vectors are continuous for head rotations well below π
    return head_motion_to_pose(gaussian_filter1d(motion, sigma, axis=0, mode="nearest"))


def training_motion(
    poses: np.ndarray, blink: np.ndarray, train: np.ndarray, num_frames: int, smooth: float
) -> tuple[np.ndarray, np.ndarray]:
    """The training frames `train` (int [n]) of poses [N, 4, 4] / blink [N] replayed ping-pong for `num_frames`,
    poses smoothed with σ = `smooth` frames → (poses [T, 4, 4], blink [T])."""
    order = np.asarray(train)[mirror_indices(len(train), num_frames)]
    path = smooth_poses(np.asarray(poses)[order], smooth)
    return path.astype(np.float32), np.asarray(blink, dtype=np.float32)[order]


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
    """Least-squares (a, b) with blink ≈ a·opening + b on training frames; see the module docstring."""
    opening, blink = np.asarray(opening, np.float64), np.asarray(blink, np.float64)
    if opening.std() < 1e-8 * max(1.0, abs(opening.mean())) or blink.std() < 1e-6:
        return 0.0, float(blink.mean())
    a, b = np.polyfit(opening, blink, 1)
    return float(a), float(b)


def moda_blink(eyes: np.ndarray, canonical_train: np.ndarray, blink_train: np.ndarray) -> np.ndarray:
    """MODA's eye landmarks [T, 60, 3] (EYE_INDICES order) → blink [T] in [0, 1], calibrated on the speaker's
    training canonical meshes [n, 478, 3] and blink values [n]."""
    a, b = fit_blink_calibration(eye_opening(canonical_train), blink_train)
    return np.clip(a * eye_opening(eyes, EYE_INDICES) + b, 0.0, 1.0).astype(np.float32)


def moda_motion(
    head: np.ndarray, eyes: np.ndarray, canonical_train: np.ndarray, blink_train: np.ndarray, num_frames: int,
    smooth: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """MODA's head [T', 7] and eyes [T', 60, 3] → (poses [T, 4, 4], blink [T]), trimmed / edge-padded to T frames."""
    index = np.minimum(np.arange(num_frames), len(head) - 1)
    poses = smooth_poses(head_motion_to_pose(np.asarray(head)[index]), smooth)
    blink = moda_blink(np.asarray(eyes)[index], canonical_train, blink_train)
    return poses.astype(np.float32), blink

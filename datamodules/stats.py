"""Per-speaker normalisation statistics of the motion representation, from the train split only.

Parts (canonical frame, the speaker's camera units):
    mesh  [478, 3]  canonical landmarks; mesh_mean is the subject mean mesh S
    lips  [40, 3]   mesh[LIP_INDICES]          eyes [60, 3]  mesh[EYE_INDICES]
    head  [7]       rotation vector (rad) 3, translation 3, scale 1 (talkzoo.zoo.head_motion, from pose.npy)
    torso [18, 3]   shoulders.npy
A part is normalised as (x - mean) / std, element-wise. Stds are floored at 1e-3 of the part's scale (RMS radius
of the mean mesh for mesh, lips and eyes, of the mean torso for torso; 1 rad for rotation, |mean| for translation
and scale), so a constant part maps to 0, never NaN.
The subject code is the mean mesh without position and size: (S - subject_center) / subject_scale, where
subject_center is S's centroid and subject_scale its RMS radius, so subject codes of different speakers are
comparable shapes (MODA fed S raw: its `datasets/audio2repr_dataset.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from talkzoo.datamodules.speaker import Speaker
from talkzoo.zoo.face_indices import EYE_INDICES, LIP_INDICES
from talkzoo.zoo.head_motion import pose_to_head_motion

PARTS = ("mesh", "lips", "eyes", "head", "torso")
STD_FLOOR = 1e-3
_CHUNK = 512


@dataclass
class SpeakerStats:
    """Mean / std of each motion part over a speaker's train frames, plus the subject normalisation.

    Arrays are float32 numpy; `to_dict` / `from_dict` round-trip through plain lists (checkpoint- and JSON-safe),
    `tensors()` gives torch tensors.
    """

    speaker: str
    num_frames: int
    mesh_mean: np.ndarray  # [478, 3] = subject mean mesh S
    mesh_std: np.ndarray  # [478, 3]
    lips_mean: np.ndarray  # [40, 3]
    lips_std: np.ndarray  # [40, 3]
    eyes_mean: np.ndarray  # [60, 3]
    eyes_std: np.ndarray  # [60, 3]
    head_mean: np.ndarray  # [7]
    head_std: np.ndarray  # [7]
    torso_mean: np.ndarray  # [18, 3]
    torso_std: np.ndarray  # [18, 3]
    subject_center: np.ndarray  # [3]
    subject_scale: float

    @property
    def subject(self) -> np.ndarray:
        """float32 [478, 3]: the subject mean canonical mesh S (raw units)."""
        return self.mesh_mean

    def subject_code(self) -> np.ndarray:
        """float32 [478, 3]: (S - subject_center) / subject_scale, the normalised subject condition."""
        return ((self.mesh_mean - self.subject_center) / self.subject_scale).astype(np.float32)

    def normalise(self, part: str, x: np.ndarray) -> np.ndarray:
        """(x - mean) / std for part in PARTS; x: [..., *part_shape]. Returns float32, same shape."""
        mean, std = self._part(part)
        return ((np.asarray(x, dtype=np.float32) - mean) / std).astype(np.float32)

    def denormalise(self, part: str, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """x · std + mean for part in PARTS; works on numpy arrays and torch tensors [..., *part_shape]."""
        mean, std = self._part(part)
        if isinstance(x, torch.Tensor):
            return x * torch.as_tensor(std, device=x.device, dtype=x.dtype) + torch.as_tensor(
                mean, device=x.device, dtype=x.dtype
            )
        return (np.asarray(x) * std + mean).astype(np.float32)

    def _part(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        if part not in PARTS:
            raise ValueError(f"unknown motion part {part!r}; choose one of {', '.join(PARTS)}")
        return getattr(self, f"{part}_mean"), getattr(self, f"{part}_std")

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every array field as a float32 tensor (keys as the field names), plus `subject_code`."""
        out = {f.name: torch.as_tensor(np.asarray(getattr(self, f.name), dtype=np.float32)) for f in _array_fields()}
        out["subject_code"] = torch.from_numpy(self.subject_code())
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain Python (str, int, float, nested lists): safe for checkpoints and JSON."""
        out: dict[str, Any] = {"speaker": self.speaker, "num_frames": int(self.num_frames)}
        out["subject_scale"] = float(self.subject_scale)
        for f in _array_fields():
            out[f.name] = np.asarray(getattr(self, f.name), dtype=np.float32).tolist()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeakerStats:
        """Inverse of `to_dict`; arrays may be lists, numpy arrays or tensors."""
        arrays = {
            f.name: np.asarray(
                data[f.name].cpu().numpy() if isinstance(data[f.name], torch.Tensor) else data[f.name],
                dtype=np.float32,
            )
            for f in _array_fields()
        }
        return cls(
            speaker=str(data["speaker"]),
            num_frames=int(data["num_frames"]),
            subject_scale=float(data["subject_scale"]),
            **arrays,
        )


def _array_fields() -> list[Any]:
    return [f for f in fields(SpeakerStats) if f.name not in ("speaker", "num_frames", "subject_scale")]


def _mean_std(array: np.ndarray, frames: np.ndarray, transform: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise mean and population std over `frames` of a [T, ...] (memmapped) array, read in chunks.

    Shifted sums (by the first frame) keep the variance accurate when |mean| ≫ std.
    """
    shift: np.ndarray | None = None
    total = total_sq = None
    for begin in range(0, len(frames), _CHUNK):
        chunk = np.asarray(array[frames[begin : begin + _CHUNK]], dtype=np.float64)
        if transform is not None:
            chunk = transform(chunk).astype(np.float64)
        if shift is None:
            shift = chunk[0].copy()
            total = np.zeros_like(shift)
            total_sq = np.zeros_like(shift)
        chunk = chunk - shift
        total += chunk.sum(axis=0)
        total_sq += np.square(chunk).sum(axis=0)
    n = len(frames)
    mean_shifted = total / n
    var = np.maximum(total_sq / n - np.square(mean_shifted), 0.0)
    return (mean_shifted + shift).astype(np.float32), np.sqrt(var).astype(np.float32)


def _rms_radius(points: np.ndarray) -> float:
    """RMS distance of [N, 3] points from their centroid."""
    return float(np.sqrt(np.square(points - points.mean(axis=0)).sum(axis=1).mean()))


def _floored(std: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    return np.maximum(std, STD_FLOOR * np.asarray(scale, dtype=np.float32)).astype(np.float32)


def compute_stats(speaker: Speaker, frames: np.ndarray | None = None) -> SpeakerStats:
    """Statistics of `speaker` over `frames` (default: its train split). Only those frames are read."""
    frames = speaker.split_indices("train") if frames is None else np.asarray(frames, dtype=np.int64)
    if len(frames) == 0:
        raise ValueError(f"{speaker.root}: no frames to compute statistics from")
    mesh_mean, mesh_std = _mean_std(speaker.canonical, frames)
    head_mean, head_std = _mean_std(speaker.pose, frames, transform=pose_to_head_motion)
    torso_mean, torso_std = _mean_std(speaker.shoulders, frames)

    center = mesh_mean.mean(axis=0)
    scale = _rms_radius(mesh_mean) or 1.0
    mesh_std = _floored(mesh_std, scale)  # lips and eyes are its slices: normalised lips == normalised mesh[LIPS]
    lips, eyes = list(LIP_INDICES), list(EYE_INDICES)
    head_scale = np.ones(7, dtype=np.float32)
    head_scale[3:6] = np.linalg.norm(head_mean[3:6]) or 1.0
    head_scale[6] = abs(float(head_mean[6])) or 1.0
    return SpeakerStats(
        speaker=speaker.name,
        num_frames=len(frames),
        mesh_mean=mesh_mean,
        mesh_std=mesh_std,
        lips_mean=mesh_mean[lips],
        lips_std=mesh_std[lips],
        eyes_mean=mesh_mean[eyes],
        eyes_std=mesh_std[eyes],
        head_mean=head_mean,
        head_std=_floored(head_std, head_scale),
        torso_mean=torso_mean,
        torso_std=_floored(torso_std, _rms_radius(torso_mean) or scale),
        subject_center=center.astype(np.float32),
        subject_scale=float(scale),
    )

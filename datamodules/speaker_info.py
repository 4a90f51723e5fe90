"""`SpeakerInfo`: what a trained module keeps of one speaker's data, handed over by the DataModule.

Every talkzoo DataModule implements `SpeakerInfoSource.speaker_infos()` (valid after its `setup`); the module takes
the list once, in `talkzoo.lightning_modules.speaker_module.SpeakerModule.setup`, and stores it in its checkpoint,
so inference (the Avatars, `talkzoo generate`) needs no data. See docs/training.md, "Data-derived state".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from talkzoo.datamodules.speaker import Speaker
from talkzoo.datamodules.stats import SpeakerStats
from talkzoo.zoo.portrait.condition import Camera

SPEAKER_INFO_VERSION = 1


@dataclass(frozen=True, eq=False)
class SpeakerInfo:
    """Facts of one speaker (and of how its DataModule delivers it) that a module needs after training.

    name: the speaker folder's name. fps, sample_rate: of the video and audio.
    camera: pinhole camera at the speaker's own size (focal, cx, cy in pixels, width, height).
    image_size: (H, W) of the images in the batches (after the DataModule's resize; the speaker's size for motion).
    num_frames: T. num_train: frames [0, num_train) form the train split, the rest validates.
    mean_canonical: float32 [478, 3] mean canonical mesh over all frames (the head's extent: NeRF box scale).
    feature, audio_dim: the audio feature in the batches and its dimension D (None when the batches carry none).
    audio_source: "features", "waveform" or None (no audio in the batches).
    stats: per-part motion normalisation from the train split (MotionDataModule), else None.
    reference: uint8 [H, W, 3] reference image at image_size (PortraitDataModule), else None.
    thickness: line width of the condition drawings in pixels (PortraitDataModule), else None.
    """

    name: str
    fps: float
    sample_rate: int
    camera: Camera
    image_size: tuple[int, int]
    num_frames: int
    num_train: int
    mean_canonical: np.ndarray | None = None
    feature: str | None = None
    audio_dim: int | None = None
    audio_source: str | None = None
    stats: SpeakerStats | None = None
    reference: np.ndarray | None = None
    thickness: int | None = None

    def camera_dict(self) -> dict[str, float]:
        """{focal, cx, cy, width, height, fps}: the camera (pixels at the speaker's own size) and the frame rate."""
        camera = self.camera
        return {
            "focal": float(camera.focal),
            "cx": float(camera.cx),
            "cy": float(camera.cy),
            "width": float(camera.width),
            "height": float(camera.height),
            "fps": float(self.fps),
        }

    def to_dict(self) -> dict[str, Any]:
        """Tensors and plain Python only: a checkpoint holding it loads with torch.load(weights_only=True)."""
        return {
            "version": SPEAKER_INFO_VERSION,
            "name": self.name,
            "fps": float(self.fps),
            "sample_rate": int(self.sample_rate),
            "camera": self.camera.to_dict(),
            "image_size": [int(self.image_size[0]), int(self.image_size[1])],
            "num_frames": int(self.num_frames),
            "num_train": int(self.num_train),
            "mean_canonical": _tensor(self.mean_canonical, np.float32),
            "feature": self.feature,
            "audio_dim": None if self.audio_dim is None else int(self.audio_dim),
            "audio_source": self.audio_source,
            "stats": None if self.stats is None else self.stats.to_dict(),
            "reference": _tensor(self.reference, np.uint8),
            "thickness": None if self.thickness is None else int(self.thickness),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeakerInfo:
        """Inverse of `to_dict`; refuses other versions with a clear message."""
        version = data.get("version")
        if version != SPEAKER_INFO_VERSION:
            raise ValueError(
                f"speaker info version {version!r} is not {SPEAKER_INFO_VERSION}: the checkpoint was written by "
                "another talkzoo version; retrain it with `talkzoo fit`"
            )
        height, width = data["image_size"]
        return cls(
            name=str(data["name"]),
            fps=float(data["fps"]),
            sample_rate=int(data["sample_rate"]),
            camera=Camera.from_dict(data["camera"]),
            image_size=(int(height), int(width)),
            num_frames=int(data["num_frames"]),
            num_train=int(data["num_train"]),
            mean_canonical=_array(data.get("mean_canonical"), np.float32),
            feature=data.get("feature"),
            audio_dim=data.get("audio_dim"),
            audio_source=data.get("audio_source"),
            stats=None if data.get("stats") is None else SpeakerStats.from_dict(data["stats"]),
            reference=_array(data.get("reference"), np.uint8),
            thickness=data.get("thickness"),
        )


@runtime_checkable
class SpeakerInfoSource(Protocol):
    """A DataModule that hands its speakers' facts to the module (all talkzoo DataModules)."""

    def speaker_infos(self) -> list[SpeakerInfo]:
        """One SpeakerInfo per speaker, by speaker index; valid after `setup`."""
        ...


def speaker_camera(speaker: Speaker) -> Camera:
    """The speaker's pinhole camera at its own resolution."""
    meta = speaker.meta
    return Camera(float(meta.focal), float(meta.cx), float(meta.cy), int(meta.width), int(meta.height))


def describe_speaker(speaker: Speaker, image_size: tuple[int, int] | None = None, **fields: Any) -> SpeakerInfo:
    """The SpeakerInfo of an opened speaker; image_size defaults to the speaker's own (H, W); `fields` sets the
    DataModule-specific entries (feature, audio_dim, audio_source, stats, reference, thickness)."""
    meta = speaker.meta
    mean = np.asarray(speaker.canonical, dtype=np.float32).mean(axis=0) if speaker.has("canonical") else None
    return SpeakerInfo(
        name=speaker.name,
        fps=float(meta.fps),
        sample_rate=int(meta.sample_rate),
        camera=speaker_camera(speaker),
        image_size=(int(meta.height), int(meta.width)) if image_size is None else tuple(image_size),
        num_frames=int(meta.num_frames),
        num_train=len(speaker.split_indices("train")),
        mean_canonical=mean,
        **fields,
    )


def _tensor(array: np.ndarray | None, dtype: type) -> torch.Tensor | None:
    return None if array is None else torch.from_numpy(np.ascontiguousarray(array, dtype=dtype)).clone()


def _array(value: torch.Tensor | np.ndarray | list | None, dtype: type) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        value = value.cpu().numpy()
    return np.asarray(value, dtype=dtype)


__all__ = ["SpeakerInfo", "SpeakerInfoSource", "describe_speaker", "speaker_camera"]

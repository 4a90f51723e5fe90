"""Per-frame items for the portrait renderer and ER-NeRF (head and torso).

Item (H, W after the optional resize; C context frames, K feature steps, D feature dim):
    image       float32 [3, H, W]   RGB in [0, 1]
    parsing     int64   [H, W]      labels 0 background, 1 head, 2 neck, 3 torso
    torso       float32 [4, H, W]   RGBA neck + torso layer in [0, 1]
    background  float32 [3, H, W]   static plate in [0, 1] (read once per worker)
    pose        float32 [4, 4]      head → camera (OpenCV axes); unchanged by resizing
    intrinsics  float32 [4]         fx, fy, cx, cy, scaled with the image
    blink       float32 []          0 open … 1 closed
    landmarks   float32 [478, 3]    image-space landmarks, scaled with the image (z with the width)
    audio       float32 [C, K, D]   windows of K steps centred on frames i - C//2 … i + C//2 - 1 (ER-NeRF: C=8,
                                    K=16 at 50 Hz); zero outside the features and outside the video
    index       int64   []          frame index in the speaker
Only the entries named in `keys` are loaded (`index` always is).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Sampler

from talkzoo.datamodules.alignment import feature_windows
from talkzoo.datamodules.boundary import check_feature, open_speaker
from talkzoo.datamodules.lazy_speaker import LazySpeakerDataset
from talkzoo.datamodules.resize import resize_image, resize_labels, scale_intrinsics, scale_landmarks, target_size
from talkzoo.datamodules.sampling import SeededShuffleSampler
from talkzoo.datamodules.speaker_info import describe_speaker
from talkzoo.datamodules.split_module import SplitDataModule

FRAME_KEYS = ("image", "parsing", "torso", "background", "pose", "intrinsics", "blink", "landmarks", "audio")


def _chw(image: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, C] → float32 [C, H, W] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


class FrameDataset(LazySpeakerDataset):
    """Frames `frames` of one speaker; images stream from disk, arrays are memmapped lazily per worker."""

    def __init__(
        self,
        root: str,
        frames: list[int],
        keys: tuple[str, ...] = FRAME_KEYS,
        feature: str = "mel",
        audio_window: int = 16,
        audio_context: int = 8,
        size: int | list[int] | None = None,
    ) -> None:
        unknown = sorted(set(keys) - set(FRAME_KEYS))
        if unknown:
            raise ValueError(f"unknown frame item key(s) {unknown}; choose from {', '.join(FRAME_KEYS)}")
        if audio_window <= 0 or audio_context <= 0:
            raise ValueError(f"audio_window ({audio_window}) and audio_context ({audio_context}) must be positive")
        self.root = str(root)
        self.frames = list(frames)
        self.keys = tuple(keys)
        self.feature = feature
        self.audio_window = audio_window
        self.audio_context = audio_context
        self.size = size

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def output_size(self) -> tuple[int, int]:
        """(H, W) of the items' images."""
        meta = self.speaker.meta
        return target_size(self.size, meta.height, meta.width)

    def _background(self) -> torch.Tensor:
        if "background" not in self._cache:
            height, width = self.output_size
            self._cache["background"] = _chw(resize_image(self.speaker.background(), height, width))
        return self._cache["background"]

    def _audio(self, frame: int) -> torch.Tensor:
        if "features" not in self._cache:
            self._cache["features"] = self.speaker.feature(self.feature)
        values, info = self._cache["features"]
        context = frame + np.arange(self.audio_context) - self.audio_context // 2
        windows = feature_windows(
            values, float(info["rate_hz"]), self.speaker.meta.fps, context, self.audio_window, self.speaker.num_frames
        )
        return torch.from_numpy(windows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        frame = self.frames[i]
        speaker, meta = self.speaker, self.speaker.meta
        height, width = self.output_size
        sx, sy = width / meta.width, height / meta.height
        item: dict[str, torch.Tensor] = {"index": torch.tensor(frame, dtype=torch.long)}
        if "image" in self.keys:
            item["image"] = _chw(resize_image(speaker.frame(frame), height, width))
        if "parsing" in self.keys:
            item["parsing"] = torch.from_numpy(resize_labels(speaker.parsing(frame), height, width).astype(np.int64))
        if "torso" in self.keys:
            item["torso"] = _chw(resize_image(speaker.torso(frame), height, width))
        if "background" in self.keys:
            item["background"] = self._background()
        if "pose" in self.keys:
            item["pose"] = torch.from_numpy(np.array(speaker.pose[frame], dtype=np.float32))
        if "intrinsics" in self.keys:
            item["intrinsics"] = torch.from_numpy(scale_intrinsics(meta.intrinsics, sx, sy))
        if "blink" in self.keys:
            item["blink"] = torch.tensor(float(speaker.blink[frame]), dtype=torch.float32)
        if "landmarks" in self.keys:
            item["landmarks"] = torch.from_numpy(scale_landmarks(speaker.landmarks[frame], sx, sy))
        if "audio" in self.keys:
            item["audio"] = self._audio(frame)
        return item


class FrameDataModule(SplitDataModule):
    """Frames of one speaker for the renderer and ER-NeRF.

    Args:
        speaker: the speaker folder.
        keys: item entries to load (default: all of FRAME_KEYS); the renderer names only what it uses.
        feature: audio feature name (features/NAME.npy) for `audio`.
        audio_window: K, feature steps per window, at the feature's own rate (ER-NeRF: 16 at 50 Hz = 320 ms).
        audio_context: C, frames of audio context centred on the frame (ER-NeRF: 8).
        size: resize on load: None (speaker size), an int (height; width keeps the aspect) or [height, width].
        batch_size: frames per batch (ER-NeRF: 1 frame, many rays).
        num_workers, pin_memory: DataLoader settings (persistent workers when num_workers > 0).
        shuffle: shuffle the train frames (seeded).
        val_limit: use only the first N val frames for validation (ER-NeRF validates on 100); None = all.
        seed: fixes the train order (epoch e draws from seed and e).

    After `setup`: `audio_dim`, `image_size` (H, W) and `speaker_infos()` (camera, fps, mean canonical mesh, audio
    feature: what ER-NeRF stores in its checkpoints). Batches: `talkzoo.datamodules.batches.FrameBatch`.
    """

    def __init__(
        self,
        speaker: str,
        keys: list[str] | None = None,
        feature: str = "mel",
        audio_window: int = 16,
        audio_context: int = 8,
        size: int | list[int] | None = None,
        batch_size: int = 1,
        num_workers: int = 0,
        pin_memory: bool = False,
        shuffle: bool = True,
        val_limit: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        speaker = str(speaker)  # a plain string in the saved hyper-parameters, never a Path object
        self.save_hyperparameters()
        self.speaker = speaker
        self.keys = tuple(keys) if keys is not None else FRAME_KEYS
        self.audio_dim: int | None = None
        self.image_size: tuple[int, int] | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        hp = self.hparams
        speaker = open_speaker(self.speaker)
        if "audio" in self.keys:
            self.audio_dim = check_feature(speaker, hp.feature).dim
        val = speaker.split_indices("val").tolist()
        if hp.val_limit is not None:
            val = val[: hp.val_limit]
        common = dict(keys=self.keys, feature=hp.feature, audio_window=hp.audio_window)
        common.update(audio_context=hp.audio_context, size=hp.size)
        self.train_set = FrameDataset(self.speaker, speaker.split_indices("train").tolist(), **common)
        self.val_set = FrameDataset(self.speaker, val, **common)
        self.image_size = self.train_set.output_size
        audio = "audio" in self.keys
        self.infos = [
            describe_speaker(
                speaker,
                self.image_size,
                feature=hp.feature if audio else None,
                audio_dim=self.audio_dim,
                audio_source="features" if audio else None,
            )
        ]

    def train_sampler(self, dataset: FrameDataset) -> Sampler:
        return SeededShuffleSampler(len(dataset), shuffle=self.hparams.shuffle, seed=self.hparams.seed)

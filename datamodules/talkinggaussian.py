"""Frames for TalkingGaussian: FrameDataModule's items plus the mouth regions, and its sampling curricula.

Extra item entries (H, W after the resize):
    mouth_mask     bool    [H, W]   inside of the mouth: the filled inner-lip polygon (datamodules/mouth_masks.py)
    lips_rect      int64   [4]      square box around the outer lips: row0, row1, col0, col1 (half-open)
    mouth_opening  float32 []       inner-lip gap in pixels (the AU25 proxy of the curricula)
What this changes against the original (BiSeNet class 11 + EasyPortrait teeth, OpenFace AU25): docs/talkinggaussian.md.

The train loader uses `CurriculumSampler`; the curriculum comes from the trained module when it is a
`CurriculumSource` (its `sampling_curriculum()` gives a `CurriculumSpec`, or None), so its schedule lives with the
stage that defines it. The DataModule is a `GaussianInitSource`: the branch stages place their initial Gaussians from
its train items and scale their position LR by its training cameras.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from talkzoo.datamodules.curriculum import Curriculum, CurriculumSampler, CurriculumSpec
from talkzoo.datamodules.frames import FrameDataModule, FrameDataset
from talkzoo.datamodules.mouth_masks import inner_mouth_mask, lips_rect, mouth_opening
from talkzoo.datamodules.resize import scale_landmarks
from talkzoo.datamodules.speaker import Speaker

MOUTH_KEYS = ("mouth_mask", "lips_rect", "mouth_opening")


@runtime_checkable
class CurriculumSource(Protocol):
    """A training module that asks for curriculum sampling (the TalkingGaussian branch stages)."""

    def sampling_curriculum(self) -> CurriculumSpec | None: ...


@runtime_checkable
class GaussianInitSource(Protocol):
    """A DataModule the TalkingGaussian branch stages initialise from (valid after its `setup`)."""

    def init_dataset(self) -> MouthRegionDataset:
        """The train split with mouth regions (the items the initial point cloud is back-projected from)."""
        ...

    def train_poses(self) -> np.ndarray:
        """float [n, 4, 4]: head → camera poses of the train split (the cameras' extent)."""
        ...


class MouthRegionDataset(Dataset):
    """A FrameDataset whose items also carry the mouth regions of MOUTH_KEYS (computed from the landmarks)."""

    def __init__(self, frames: FrameDataset, mask_dilate: int = 1) -> None:
        self.base = frames
        self.mask_dilate = mask_dilate

    def __len__(self) -> int:
        return len(self.base)

    @property
    def frames(self) -> list[int]:
        return self.base.frames

    @property
    def output_size(self) -> tuple[int, int]:
        return self.base.output_size

    def landmarks(self, i: int) -> np.ndarray:
        """Image-space landmarks [478, 3] of item i at the items' size."""
        speaker, meta = self.base.speaker, self.base.speaker.meta
        height, width = self.output_size
        return scale_landmarks(speaker.landmarks[self.base.frames[i]], width / meta.width, height / meta.height)

    def canonical(self, i: int) -> np.ndarray:
        """float32 [478, 3]: the canonical (head-frame) mesh of item i."""
        return np.array(self.base.speaker.canonical[self.base.frames[i]], dtype=np.float32)  # a writable copy

    def regions(self, i: int) -> dict[str, torch.Tensor]:
        height, width = self.output_size
        lm = self.landmarks(i)
        return {
            "mouth_mask": torch.from_numpy(inner_mouth_mask(lm, height, width, self.mask_dilate)),
            "lips_rect": torch.from_numpy(lips_rect(lm, height, width)),
            "mouth_opening": torch.tensor(float(mouth_opening(lm)), dtype=torch.float32),
        }

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.base[i]
        item.update(self.regions(i))
        return item

    def values(self) -> dict[str, np.ndarray]:
        """Per item: mouth_opening [N] (px), blink [N], mouth_pixels [N] (inside-mouth mask size): the curricula's
        inputs."""
        height, width = self.output_size
        speaker, meta = self.base.speaker, self.base.speaker.meta
        frames = np.asarray(self.base.frames)
        lm = scale_landmarks(speaker.landmarks[frames], width / meta.width, height / meta.height)
        pixels = [int(inner_mouth_mask(lm[k], height, width, self.mask_dilate).sum()) for k in range(len(frames))]
        return {
            "mouth_opening": mouth_opening(lm),
            "blink": np.asarray(speaker.blink[frames], dtype=np.float64),
            "mouth_pixels": np.asarray(pixels, dtype=np.int64),
        }


class TalkingGaussianDataModule(FrameDataModule):
    """FrameDataModule + mouth regions + curriculum sampling (one frame per step: batch_size 1).

    Args (beyond FrameDataModule's): mask_dilate: pixels the inside-mouth polygon is dilated by (1).
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
        mask_dilate: int = 1,
    ) -> None:
        super().__init__(speaker, keys, feature, audio_window, audio_context, size, batch_size, num_workers,
                         pin_memory, shuffle, val_limit, seed)  # fmt: skip
        self.mask_dilate = mask_dilate

    def setup(self, stage: str | None = None) -> None:
        if isinstance(self.train_set, MouthRegionDataset):
            return
        super().setup(stage)
        self.train_set = MouthRegionDataset(self.train_set, self.mask_dilate)  # type: ignore[arg-type]
        self.val_set = MouthRegionDataset(self.val_set, self.mask_dilate)  # type: ignore[arg-type]

    def init_dataset(self) -> MouthRegionDataset:
        if not isinstance(self.train_set, MouthRegionDataset):
            raise RuntimeError("TalkingGaussianDataModule.init_dataset() before setup()")
        return self.train_set

    def train_poses(self) -> np.ndarray:
        speaker = Speaker(self.speaker)
        return np.asarray(speaker.pose[speaker.split_indices("train")], dtype=np.float64)

    def train_sampler(self, dataset: Dataset) -> Sampler:
        trainer = self.trainer
        module = trainer.lightning_module if trainer is not None else None
        spec = module.sampling_curriculum() if isinstance(module, CurriculumSource) else None
        curriculum = Curriculum(spec, dataset.values()) if spec is not None else None  # type: ignore[attr-defined]
        world, rank = (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)
        return CurriculumSampler(
            dataset, curriculum, lambda: trainer.global_step if trainer is not None else 0,
            num_replicas=world, rank=rank, shuffle=self.hparams.shuffle, seed=self.hparams.seed,
        )  # fmt: skip

"""Per-frame items of MODA's portrait renderer (docs/moda.md, "Renderer"), drawn from the speaker format on the fly.

Item (H, W = the render size):
    condition  float32 [3, H, W]  condition image in [0, 1]: ground-truth canonical mesh + shoulders projected with
                                  the frame's pose (talkzoo.zoo.portrait.condition, the same code as inference)
    reference  float32 [3, H, W]  the reference image in [0, 1]: one fixed train frame, or the mean train frame
    image      float32 [3, H, W]  the target frame in [0, 1]
    mouth      float32 [1, H, W]  1 inside the box around the projected lips (padded by half its size), else 0
    index      int64   []         the frame's index in the speaker (TPE ids come from it via zoo.portrait.tpe_index)
Train = the speaker's train split, val = its val split (the last 1/11 of the frames).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Sampler

from talkzoo.datamodules.boundary import open_speaker
from talkzoo.datamodules.lazy_speaker import LazySpeakerDataset
from talkzoo.datamodules.resize import resize_image, target_size
from talkzoo.datamodules.sampling import SeededShuffleSampler
from talkzoo.datamodules.speaker_info import describe_speaker, speaker_camera
from talkzoo.datamodules.split_module import SplitDataModule
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.face_indices import LIP_INDICES
from talkzoo.zoo.portrait.condition import Camera, condition_image, default_thickness, project


def mouth_box(lips: np.ndarray, height: int, width: int, pad: float = 0.5) -> torch.Tensor:
    """float32 [1, H, W]: 1 inside the lips' bounding box (pixels [40, 2]) grown by `pad` of its size on each side."""
    lo, hi = lips.min(axis=0), lips.max(axis=0)
    margin = pad * (hi - lo) + 1.0
    x0, y0 = np.floor(lo - margin).astype(int)
    x1, y1 = np.ceil(hi + margin).astype(int)
    mask = torch.zeros(1, height, width)
    mask[:, max(y0, 0) : max(y1 + 1, 0), max(x0, 0) : max(x1 + 1, 0)] = 1.0
    return mask


def _chw(image: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] → float32 [3, H, W] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255.0)


class PortraitDataset(LazySpeakerDataset):
    """Frames `frames` of one speaker at (height, width); arrays memmapped lazily per worker."""

    def __init__(
        self, root: str, frames: list[int], height: int, width: int, reference: np.ndarray, thickness: int
    ) -> None:
        self.root, self.frames = str(root), list(frames)
        self.height, self.width = height, width
        self.reference_image, self.thickness = reference, thickness

    def __len__(self) -> int:
        return len(self.frames)

    def _camera(self) -> Camera:
        return speaker_camera(self.speaker).scaled(self.height, self.width)

    def reference(self) -> torch.Tensor:
        """float32 [3, H, W]: the reference image (converted once per worker)."""
        if "reference" not in self._cache:
            self._cache["reference"] = _chw(self.reference_image)
        return self._cache["reference"]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        frame = self.frames[i]
        speaker = self.speaker
        cond = condition_image(
            speaker.canonical[frame],
            speaker.shoulders[frame],
            speaker.pose[frame],
            speaker_camera(speaker),
            self.height,
            self.width,
            self.thickness,
        )
        lips = project(speaker.canonical[frame][list(LIP_INDICES)], speaker.pose[frame], self._camera())
        return {
            "condition": _chw(cond),
            "mouth": mouth_box(lips, self.height, self.width),
            "reference": self.reference(),
            "image": _chw(resize_image(speaker.frame(frame), self.height, self.width)),
            "index": torch.tensor(frame, dtype=torch.long),
        }


class PortraitDataModule(SplitDataModule):
    """Condition / reference / target frames of one speaker for `talkzoo.lightning_modules.portrait_renderer`.

    Args:
        speaker: the speaker folder.
        size: render size: an int (height; width keeps the aspect), [height, width], or None (the speaker's size).
            The generator needs both divisible by 2^num_downs.
        reference_frame: the train frame used as the reference image (MODA: a random train frame).
        reference: "frame" (that train frame, MODA) or "mean" (the mean of up to 250 evenly spaced train frames: on a
            head that turns and is lit differently from frame to frame, one frame's pose and light are far from most
            frames; docs/moda.md, "Renderer on real video").
        thickness: contour line width in pixels (None: 2 px at 512, scaled, at least 1).
        batch_size, num_workers, pin_memory: DataLoader settings. shuffle: shuffle the train frames (seeded).
        val_limit: validate on the first N val frames only (None: all). seed: fixes the train order.

    After `setup`: `camera` (the speaker's, at its own size), `render_size` (H, W), `num_train` (train frames, the
    TPE id range), `thickness` (resolved) and `speaker_infos()` (those, fps and the reference image: what the renderer
    stores in its checkpoint). Batches: `talkzoo.datamodules.batches.PortraitBatch`.
    """

    def __init__(
        self,
        speaker: str,
        size: int | list[int] | None = 512,
        reference_frame: int = 0,
        reference: str = "frame",
        thickness: int | None = None,
        batch_size: int = 4,
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
        self.camera: Camera | None = None
        self.render_size: tuple[int, int] | None = None
        self.num_train = 0
        self.thickness = 1

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        hp = self.hparams
        speaker = open_speaker(self.speaker)
        for name in ("canonical", "pose", "shoulders"):
            if not speaker.has(name):
                raise UserError(f"{speaker.root}: {name}.npy is missing; re-run `talkzoo preprocess` on the video")
        train, val = speaker.split_indices("train").tolist(), speaker.split_indices("val").tolist()
        if not 0 <= hp.reference_frame < len(train):
            raise UserError(
                f"data.reference_frame = {hp.reference_frame} is not a train frame of {speaker.root} "
                f"(0 … {len(train) - 1}); pick one in that range"
            )
        if hp.val_limit is not None:
            val = val[: hp.val_limit]
        height, width = target_size(hp.size, speaker.meta.height, speaker.meta.width)
        self.camera, self.render_size, self.num_train = speaker_camera(speaker), (height, width), len(train)
        self.thickness = default_thickness(height) if hp.thickness is None else int(hp.thickness)
        if hp.reference not in ("frame", "mean"):
            raise UserError(f"data.reference = {hp.reference!r}: use frame or mean")
        if hp.reference == "mean":
            picks = np.unique(np.linspace(0, len(train) - 1, min(250, len(train))).round().astype(int))
            total = sum(resize_image(speaker.frame(train[i]), height, width).astype(np.float64) for i in picks)
            reference = np.round(total / len(picks)).astype(np.uint8)
        else:
            reference = resize_image(speaker.frame(train[hp.reference_frame]), height, width)
        common = dict(height=height, width=width, reference=reference, thickness=self.thickness)
        self.train_set = PortraitDataset(self.speaker, train, **common)
        self.val_set = PortraitDataset(self.speaker, val, **common)
        self.infos = [describe_speaker(speaker, (height, width), reference=reference, thickness=self.thickness)]

    def train_sampler(self, dataset: PortraitDataset) -> Sampler:
        return SeededShuffleSampler(len(dataset), shuffle=self.hparams.shuffle, seed=self.hparams.seed)

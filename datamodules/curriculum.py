"""TalkingGaussian's "incremental sampling" curricula (its train_mouth.py / train_face.py) as a seeded sampler.

On constrained steps the frame is drawn uniformly from the training frames whose value lies in the step's window;
when no frame does (the original then loops forever, its quirk Q6), the frame whose value is nearest to the window is
used instead. Unconstrained steps take the next frame of a seeded shuffle.

- mouth (`CurriculumSpec(kind="mouth")`, values: mouth opening clipped at its 95th percentile, the AU25 proxy):
  step < warm_step: every step, only the widest-open frames (value ≥ the clipped maximum); warm_step < step <
  select_until, every `interval`-th step: value ∈ [max − (step/select_until)·(max − p25), max]; in that range every
  frame needs ≥ min_mouth_pixels inside-mouth pixels.
- face (`kind="face"`, values: mouth opening and blink): step < warm_step, every `interval`-th step: opening within
  ±0.16R of min + 0.2R + (step/select_until)·0.8R (R = max − min: nearly closed mouths early); warm_step < step <
  select_until, every `interval`-th step: blink ∈ [t − 0.15, t + 0.3], t = step/select_until.
Steps are the trainer's global steps (1-based "iterations" as the original).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from talkzoo.datamodules.sampling import epoch_generator


@dataclass(frozen=True)
class CurriculumSpec:
    """What a training stage asks of the sampler (its LightningModule's `sampling_curriculum()`)."""

    kind: str  # "mouth" or "face"
    warm_step: int
    select_until: int
    interval: int
    min_mouth_pixels: int = 20


@dataclass(frozen=True)
class Window:
    key: str
    low: float
    high: float


class Curriculum:
    """The windows of one spec over per-frame values {"mouth_opening", "blink", "mouth_pixels"} (arrays [N])."""

    def __init__(self, spec: CurriculumSpec, values: dict[str, np.ndarray]) -> None:
        if spec.kind not in ("mouth", "face"):
            raise ValueError(f"unknown curriculum kind {spec.kind!r}: choose mouth or face")
        self.spec = spec
        opening = np.asarray(values["mouth_opening"], dtype=np.float64)
        self.values = {
            "mouth_opening": np.minimum(opening, np.percentile(opening, 95)) if spec.kind == "mouth" else opening,
            "blink": np.asarray(values["blink"], dtype=np.float64),
        }
        self.mouth_pixels = np.asarray(values["mouth_pixels"], dtype=np.int64)
        v = self.values["mouth_opening"]
        self.low, self.p25, self.high = float(v.min()), float(np.percentile(v, 25)), float(v.max())

    def window(self, step: int) -> Window | None:
        s = self.spec
        progress = step / max(s.select_until, 1)
        if s.kind == "mouth":
            if step < s.warm_step:
                return Window("mouth_opening", self.high, np.inf)
            if step < s.select_until and step % s.interval == 0:
                return Window("mouth_opening", self.high - progress * (self.high - self.p25), np.inf)
            return None
        if step % s.interval != 0 or step >= s.select_until:
            return None
        if step < s.warm_step:
            span = self.high - self.low
            centre = self.low + 0.2 * span + progress * 0.8 * span
            return Window("mouth_opening", centre - 0.16 * span, centre + 0.16 * span)
        return Window("blink", progress - 0.15, progress + 0.3)

    def min_pixels(self, step: int) -> int:
        s = self.spec
        return s.min_mouth_pixels if s.kind == "mouth" and s.warm_step < step < s.select_until else 0

    def choose(self, step: int, default: int, generator: torch.Generator) -> int:
        """The frame (index into the values) to train on at `step`; `default` when the step is unconstrained."""
        window = self.window(step)
        need = self.min_pixels(step)
        if window is None and (need == 0 or self.mouth_pixels[default] >= need):
            return default
        enough = self.mouth_pixels >= need
        if not enough.any():
            enough = np.ones_like(enough)
        if window is None:
            candidates = np.flatnonzero(enough)
        else:
            v = self.values[window.key]
            candidates = np.flatnonzero(enough & (v >= window.low) & (v <= window.high))
            if candidates.size == 0:  # nothing in the window: the nearest frame(s) instead of looping forever
                distance = np.where(enough, np.maximum(window.low - v, 0) + np.maximum(v - window.high, 0), np.inf)
                candidates = np.flatnonzero(distance == distance.min())
        pick = int(torch.randint(len(candidates), (1,), generator=generator))
        return int(candidates[pick])


class CurriculumSampler(DistributedSampler):
    """A seeded shuffle of the training frames, split across ranks, with the curriculum's constrained steps.

    It is a DistributedSampler so that Lightning uses it as is under DDP; each rank yields its share of a shared
    permutation (seed, epoch). `step_fn` returns the trainer's global step when an epoch starts; the k-th item of the
    epoch trains step start + k (+1: the original counts iterations from 1).
    """

    def __init__(
        self,
        dataset: Dataset,
        curriculum: Curriculum | None,
        step_fn: Callable[[], int],
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed)
        self.curriculum = curriculum
        self.step_fn = step_fn

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)  # type: ignore[arg-type]
        generator = epoch_generator(self.seed, self.epoch)
        order = torch.randperm(n, generator=generator).tolist() if self.shuffle else list(range(n))
        order += order[: self.total_size - n]  # pad to a multiple of the ranks, as DistributedSampler
        mine = order[self.rank : self.total_size : self.num_replicas]
        start = int(self.step_fn())
        picks = torch.Generator().manual_seed(int(self.seed) * 1_000_003 + self.epoch * 1009 + self.rank + 17)
        for k, index in enumerate(mine):
            if self.curriculum is None:
                yield index
            else:
                yield self.curriculum.choose(start + k + 1, index, picks)

"""Seeded samplers and DataLoader construction shared by the DataModules.

Randomness lives in the sampler (main process), never in the workers, so a seed fixes the batches whatever
`num_workers` is, and every epoch draws a new, reproducible order: epoch e uses seed · 1000003 + e.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A torch.Generator seeded from (seed, epoch)."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


class JitteredWindowSampler(Sampler[tuple[int, int]]):
    """Yields (window index, start offset) pairs: a seeded shuffle of windows, each with a uniform offset.

    max_jitter: int [N], the largest offset window i may take (0 = fixed start). Lightning calls `set_epoch`;
    without it the epoch advances by one per pass.
    """

    def __init__(self, max_jitter: Sequence[int], shuffle: bool = True, seed: int = 0) -> None:
        self.max_jitter = torch.as_tensor(list(max_jitter), dtype=torch.long)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.max_jitter)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = epoch_generator(self.seed, self.epoch)
        self.epoch += 1
        n = len(self.max_jitter)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        offsets = (torch.rand(n, generator=generator, dtype=torch.float64) * (self.max_jitter + 1).double()).long()
        offsets = torch.minimum(offsets, self.max_jitter)
        return iter([(int(i), int(offsets[i])) for i in order])


class SeededShuffleSampler(Sampler[int]):
    """A permutation of range(n) drawn from (seed, epoch); sequential when shuffle is False."""

    def __init__(self, num_items: int, shuffle: bool = True, seed: int = 0) -> None:
        self.num_items = num_items
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_items

    def __iter__(self) -> Iterator[int]:
        generator = epoch_generator(self.seed, self.epoch)
        self.epoch += 1
        if not self.shuffle:
            return iter(range(self.num_items))
        return iter(torch.randperm(self.num_items, generator=generator).tolist())


def make_loader(
    dataset: Dataset,
    batch_size: int,
    num_workers: int,
    sampler: Sampler | None = None,
    seed: int = 0,
    pin_memory: bool = False,
    drop_last: bool = False,
) -> DataLoader:
    """DataLoader with a seeded worker generator and persistent workers when num_workers > 0."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=pin_memory,
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(int(seed)),
    )

"""Per-frame series that grow as a stream advances, and Gaussian smoothing that states its look-ahead."""

from __future__ import annotations

import math

import numpy as np


class Track:
    """A growing array of per-frame values [n, *shape] indexed by absolute frame (0 = the stream's first frame)."""

    def __init__(self, shape: tuple[int, ...], dtype: type = np.float32) -> None:
        self.shape, self.dtype = tuple(shape), dtype
        self._data = np.zeros((0, *self.shape), dtype=dtype)
        self._length = 0

    def __len__(self) -> int:
        return self._length

    def append(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=self.dtype).reshape(-1, *self.shape)
        needed = self._length + rows.shape[0]
        if needed > self._data.shape[0]:  # amortised growth
            grown = np.zeros((max(needed, 2 * self._data.shape[0], 64), *self.shape), dtype=self.dtype)
            grown[: self._length] = self._data[: self._length]
            self._data = grown
        self._data[self._length : needed] = rows
        self._length = needed

    def put(self, start: int, rows: np.ndarray) -> None:
        """Write rows at frames [start, start + len(rows)); start must be ≤ len(self) (no holes)."""
        if start > self._length:
            raise IndexError(f"Track.put at {start} leaves a hole after {self._length} frames")
        keep = rows[max(0, self._length - start) :]
        self.append(keep)

    @property
    def values(self) -> np.ndarray:
        """The frames so far, [n, *shape] (a view)."""
        return self._data[: self._length]

    def __getitem__(self, index: int | slice | np.ndarray) -> np.ndarray:
        return self.values[index]


class GaussianSmoother:
    """Gaussian smoothing along time with edge replication, one frame at a time (the filter of
    talkzoo.zoo.moda.smooth_time, computed in float64). Frame t reads frames t − r … t + r, r = ceil(3σ):
    `lookahead` = r frames; σ ≤ 0 is the identity with no look-ahead."""

    def __init__(self, sigma: float) -> None:
        self.sigma = float(sigma)
        self.lookahead = max(1, math.ceil(3 * self.sigma)) if self.sigma > 0 else 0
        offsets = np.arange(-self.lookahead, self.lookahead + 1, dtype=np.float64)
        kernel = np.exp(-0.5 * (offsets / self.sigma) ** 2) if self.sigma > 0 else np.ones(1)
        self.kernel = (kernel / kernel.sum()).astype(np.float64)

    def ready(self, t: int, available: int, total: int | None) -> bool:
        """Can frame t be smoothed: its look-ahead frames are computed, or the series ended (total known)?"""
        return t < available and (t + self.lookahead < available or (total is not None and available >= total))

    def at(self, series: np.ndarray, t: int, total: int | None) -> np.ndarray:
        """Smoothed value of frame t of series [n, ...]; frames past the end replicate the last one (only once the
        series ended: `total` is its length), frames before 0 the first one."""
        if self.lookahead == 0:
            return np.asarray(series[t], dtype=np.float32)
        last = (total if total is not None else series.shape[0]) - 1
        index = np.clip(np.arange(t - self.lookahead, t + self.lookahead + 1), 0, last)
        window = np.asarray(series[index], dtype=np.float64)
        return np.tensordot(self.kernel, window, axes=(0, 0)).astype(np.float32)

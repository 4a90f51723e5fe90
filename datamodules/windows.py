"""Training and validation windows over one speaker's split, in absolute frame indices."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """Frames [start + offset, start + offset + length) of speaker `speaker`, offset in [0, max_jitter].

    length ≤ the window size; the item pads the rest (mask False). start + max_jitter + length never passes `end`,
    the end of the split the window belongs to.
    """

    speaker: int
    start: int
    length: int
    max_jitter: int
    end: int


def train_windows(speaker: int, begin: int, end: int, window: int, stride: int, jitter: int) -> list[Window]:
    """Full windows every `stride` frames in [begin, end), each jittering by up to `jitter` frames inside the split.

    A split shorter than `window` gives one padded window of all its frames.
    """
    if window <= 0 or stride <= 0 or jitter < 0:
        raise ValueError(f"window ({window}) and stride ({stride}) must be positive, jitter ({jitter}) non-negative")
    count = end - begin
    if count <= 0:
        return []
    if count < window:
        return [Window(speaker, begin, count, 0, end)]
    return [
        Window(speaker, start, window, min(jitter, end - window - start), end)
        for start in range(begin, end - window + 1, stride)
    ]


def val_windows(speaker: int, begin: int, end: int, window: int) -> list[Window]:
    """Consecutive non-overlapping windows covering [begin, end); the last may be shorter (padded, masked)."""
    if window <= 0:
        raise ValueError(f"window must be positive, got {window}")
    return [Window(speaker, start, min(window, end - start), 0, end) for start in range(begin, end, window)]

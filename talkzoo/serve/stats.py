"""Per-session measurement: for every frame that leaves, its latency = departure time − arrival time of the audio
block whose push made it computable (the block that holds the last audio sample it depends on; 20 ms granularity);
fps = distinct frames sent per second of stream."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

MAX_KEPT = 200_000  # latencies kept for the session summary (over 2 h at 25 fps)


@dataclass
class FrameStats:
    """Departures of distinct frames (repeats of a frame do not count) and the video slots sent."""

    window_s: float = 2.0
    recent: deque[tuple[float, float]] = field(default_factory=deque)  # (departure, latency) in the window
    latencies: list[float] = field(default_factory=list)
    first: float | None = None
    last: float | None = None
    frames: int = 0
    slots: int = 0
    skipped: int = 0  # frames not rendered because they could not make their slot

    def departed(self, now: float, latency: float) -> None:
        self.frames += 1
        self.first = now if self.first is None else self.first
        self.last = now
        self.recent.append((now, latency))
        if len(self.latencies) < MAX_KEPT:
            self.latencies.append(latency)
        self._trim(now)

    def slot(self) -> None:
        self.slots += 1

    def _trim(self, now: float) -> None:
        while self.recent and self.recent[0][0] < now - self.window_s:
            self.recent.popleft()

    def live(self, now: float) -> dict[str, float | None]:
        """fps and latency p50/p95 (ms) over the last `window_s` seconds."""
        self._trim(now)
        if not self.recent:
            return {"fps": 0.0, "p50_ms": None, "p95_ms": None}
        span = min(self.window_s, now - (self.first or now)) or self.window_s
        latencies = np.array([lat for _, lat in self.recent]) * 1000
        return {
            "fps": round(len(self.recent) / max(span, 1e-3), 2),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        }

    def summary(self) -> dict[str, float | int | None]:
        """The whole session: distinct frames sent, sustained fps (frames per second between the first and the last
        departure), latency p50/p95/max in ms."""
        seconds = (self.last - self.first) if self.first is not None and self.last is not None else 0.0
        out: dict[str, float | int | None] = {
            "frames": self.frames,
            "slots": self.slots,
            "skipped": self.skipped,
            "seconds": round(seconds, 3),
            "fps": round((self.frames - 1) / seconds, 2) if seconds > 0 else None,
        }
        if self.latencies:
            ms = np.array(self.latencies) * 1000
            out.update(p50_ms=round(float(np.percentile(ms, 50)), 1), p95_ms=round(float(np.percentile(ms, 95)), 1),
                       max_ms=round(float(ms.max()), 1))  # fmt: skip
        else:
            out.update(p50_ms=None, p95_ms=None, max_ms=None)
        return out

"""`Avatar`: a trained method loaded for one speaker on one device — audio in, video frames out.

The one inference interface of talkzoo. `talkzoo generate` feeds a file through it, `talkzoo serve` a live stream;
both run the same code. An avatar is stateful: `push(samples)` returns the frames that the audio received so far
fully determines, `finish()` the rest. Every computation is keyed by absolute frame index (fixed windows, per-frame
noise), never by how the audio was cut, so any sequence of pushes gives bit-identical frames to one push.

Frame t shows the audio around time t / fps. A stream of N samples has T = max(1, round(N · fps / 16000)) frames;
frame t is certain to exist once round(n · fps / 16000) > t samples have arrived, so `push` never renders a frame
that a shorter final stream would not have.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from talkzoo.datamodules.resize import resize_image
from talkzoo.zoo.audio.types import SAMPLE_RATE


class Avatar(ABC):
    """A trained method for one speaker on one device (subclasses: one per registered method).

    Attributes:
        method: the registry name ("moda", "ernerf", ...). fps: output frame rate. height, width: frame size.
        sample_rate: 16000 (push mono float32 samples at this rate).
        lookahead_frames: frames of audio after frame t that frame t depends on (the latency floor of a live
            stream, before compute); None when the method needs the whole utterance (not streamable).
    """

    method: ClassVar[str] = ""
    sample_rate: ClassVar[int] = SAMPLE_RATE
    render_filter: Callable[[int], bool] | None = None
    """Live streams only (talkzoo serve): frame t with render_filter(t) False is skipped — returned as None, not
    rendered — so a server running late drops frames it could not show in time. A frame depends on t alone, so the
    frames that are rendered do not change. None (the default): every frame is rendered."""

    def __init__(
        self, fps: float, native: tuple[int, int], device: torch.device, size: tuple[int, int] | None = None
    ) -> None:
        """native: (H, W) the networks render at; size: (H, W) of the output frames (None: native). The speaker's
        own size is the usual choice, so every method's video has the same size."""
        self.fps, self.device = float(fps), device
        self.native = (int(native[0]), int(native[1]))
        self.height, self.width = size if size is not None else self.native
        self._received = 0
        self._next = 0
        self._total: int | None = None

    @classmethod
    @abstractmethod
    def load(cls, runs: Path, speaker: Path, device: str | torch.device = "cpu", **options: Any) -> Avatar:
        """The method's trained stages from the run folder `runs` (runs/<stage>/...) for the speaker folder."""

    @property
    @abstractmethod
    def lookahead_frames(self) -> int | None: ...

    # ---- the stream ---------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start a new stream (frame 0, empty buffers); the loaded networks stay."""
        self._received, self._next, self._total = 0, 0, None
        self._reset_stream()

    def push(self, samples: np.ndarray) -> list[np.ndarray]:
        """Mono float32 samples [n] at 16 kHz → the uint8 [H, W, 3] frames that became computable, in order
        (None for a frame `render_filter` skips)."""
        if self._total is not None:
            raise RuntimeError("push() after finish(): call reset() to start a new stream")
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._received += samples.shape[0]
        with torch.inference_mode():
            self._feed(samples)
            return self._emit(min(self._ready_frames(), self.frames_known))

    def finish(self) -> list[np.ndarray]:
        """End of the audio → the remaining frames (after it, T frames were returned in total)."""
        with torch.inference_mode():
            if self._total is None:
                self._total = max(1, int(round(self._received * self.fps / self.sample_rate)))
                self._end()
            self._ready_frames()  # lets the method run what the end of the audio released
            return self._emit(self._total)

    @property
    def frames_known(self) -> int:
        """Frames certain to exist: T after finish(), else round(samples received · fps / 16000)."""
        if self._total is not None:
            return self._total
        return int(round(self._received * self.fps / self.sample_rate))

    @property
    def frames_emitted(self) -> int:
        return self._next

    @property
    def finished(self) -> bool:
        return self._total is not None

    def _emit(self, stop: int) -> list[np.ndarray]:
        frames = []
        with torch.inference_mode():
            for t in range(self._next, stop):
                if self.render_filter is not None and not self.render_filter(t):
                    frames.append(None)
                    continue
                frames.append(resize_image(self._render(t), self.height, self.width))
        self._next = max(self._next, stop)
        return frames

    # ---- what a method implements --------------------------------------------------------------------------------
    @abstractmethod
    def _reset_stream(self) -> None:
        """Clear the per-stream state (feature streams, motion windows, caches)."""

    @abstractmethod
    def _feed(self, samples: np.ndarray) -> None:
        """New samples [n] arrived (before `_ready_frames`)."""

    @abstractmethod
    def _end(self) -> None:
        """The audio ended; `self.frames_known` is now the total T."""

    @abstractmethod
    def _ready_frames(self) -> int:
        """How many frames from 0 can be rendered now (before finish: only those the audio so far determines)."""

    @abstractmethod
    def _render(self, t: int) -> np.ndarray:
        """Frame t → uint8 [H, W, 3] at the native size; called once per frame, in order."""

"""The audio side of an avatar: samples and features with absolute indices, grown as audio arrives.

Features are the ones the method was trained on (`extractor` name). "mel" streams (talkzoo.zoo.audio.streaming:
each row is final 12.5 ms after its centre). The learned encoders ("wav2vec2", "hubert") normalise over the whole
utterance and attend over long context, so they are computed once, when the audio ends: an avatar on them renders
everything at finish() (not streamable; `streaming` is False).
"""

from __future__ import annotations

import math

import numpy as np

from talkzoo.datamodules.alignment import feature_windows, interpolate_features
from talkzoo.zoo.audio import extract
from talkzoo.zoo.audio.streaming import MelStream
from talkzoo.zoo.audio.types import SAMPLE_RATE

from .tracks import Track


class StreamAudio:
    """Samples [N] and feature rows [F, D] of one stream, with what each video frame needs of them.

    Args:
        extractor: feature name ("mel", "wav2vec2", "hubert"), or None for samples only (waveform-input networks);
        dim: its size D. fps: video frame rate.
        model: encoder weights (Hugging Face id or folder) for the learned extractors. keep_samples: keep the raw
        samples (for waveform-input networks).
    """

    def __init__(
        self, extractor: str | None, dim: int, fps: float, model: str | None = None, keep_samples: bool = False
    ) -> None:
        self.extractor, self.dim, self.fps, self.model = extractor, int(dim), float(fps), model
        self.streaming = extractor in ("mel", None)
        self.rate_hz = MelStream.rate_hz if self.streaming else 50.0
        self.keep_samples = keep_samples or not self.streaming
        self.reset()

    def reset(self) -> None:
        self._mel = MelStream() if self.extractor == "mel" else None
        self.rows = Track((self.dim,))
        self.samples = Track(())
        self.final = False

    def feed(self, samples: np.ndarray) -> None:
        if self.keep_samples:
            self.samples.append(samples)
        if self._mel is not None:
            self.rows.append(self._mel.push(samples))

    def end(self) -> None:
        if self._mel is not None:
            self.rows.append(self._mel.finish())
        elif self.extractor is not None:
            features = extract(self.extractor, self.samples.values, SAMPLE_RATE, model=self.model)
            self.rate_hz = features.rate_hz
            self.rows.append(features.values)
        if self.extractor is not None and self.rows.values.shape[1] != self.dim:
            raise ValueError(
                f"{self.extractor} gives {self.rows.values.shape[1]}-d features, the model reads {self.dim}"
            )
        self.final = True

    # ---- per-frame features, identical whenever they are reported ready ----------------------------------------
    def frame_vector_ready(self, t: int) -> bool:
        """Frame t's interpolated feature (`frame_vectors`) reads rows ≤ ceil(t · rate / fps)."""
        return self.final or math.ceil(t * (self.rate_hz / self.fps)) < len(self.rows)  # the expression alignment uses

    def frame_vectors(self, frames: np.ndarray) -> np.ndarray:
        """float32 [n, D]: rows interpolated at the frames' times (talkzoo.datamodules.alignment)."""
        return interpolate_features(self.rows.values, self.rate_hz, self.fps, np.asarray(frames))

    def window_ready(self, t: int, window: int) -> bool:
        """Frame t's window of `window` rows around its centre (`frame_windows`) is computed."""
        centre = math.floor(t * (self.rate_hz / self.fps) + 0.5)
        return self.final or centre - window // 2 + window - 1 < len(self.rows)

    def frame_windows(self, frames: np.ndarray, window: int, num_frames: int) -> np.ndarray:
        """float32 [n, window, D]: ER-NeRF-style windows (talkzoo.datamodules.alignment.feature_windows); frames
        outside [0, num_frames) are zeros (pass the frames known to exist; the caller renders a frame only when its
        context frames all exist or the stream ended)."""
        return feature_windows(self.rows.values, self.rate_hz, self.fps, np.asarray(frames), window, num_frames)

    def samples_ready(self, stop: int) -> bool:
        """Samples [0, stop) have arrived (or the stream ended: later ones are zeros)."""
        return self.final or stop <= len(self.samples)

    def sample_range(self, start: int, stop: int) -> np.ndarray:
        """float32 [stop − start]: samples of [start, stop), zeros past the end of the stream."""
        out = np.zeros(stop - start, dtype=np.float32)
        piece = self.samples.values[start:stop]
        out[: piece.shape[0]] = piece
        return out

    @property
    def sample_rate_per_frame(self) -> float:
        return SAMPLE_RATE / self.fps

    @property
    def lookahead_seconds(self) -> float | None:
        """How long after its centre a feature row is final (None: only at the end of the utterance)."""
        return MelStream.lookahead_samples / SAMPLE_RATE if self.streaming else None

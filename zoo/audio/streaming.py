"""Audio features computed incrementally, as audio arrives: the front end of live avatars.

`MelStream` is the offline log-mel extractor (talkzoo.zoo.audio.mel) fed piece by piece. Mel frame j is centred on
sample 160·j and reads samples [160·j − 200, 160·j + 200) of the zero-padded signal, so it can be computed once
sample 160·j + 199 has arrived; `finish()` then zero-pads the end exactly as the offline extractor does. Over the
same samples the rows are bit-identical to `extract("mel", ...)` however the audio was cut into pieces.
"""

from __future__ import annotations

import numpy as np
import torch

from talkzoo.zoo.audio.mel import HOP, MEL_RATE_HZ, N_FFT, N_MELS, log_mel_padded, mel_filters, mel_num_frames


class MelStream:
    """Incremental log-mel: `push(samples)` → the new rows float32 [k, 80]; `finish()` → the last rows.

    After `finish()` the rows returned in total equal `extract_mel(all samples)`: [N // 160 + 1, 80].
    Memory stays bounded: samples no later frame needs are dropped.
    """

    rate_hz = MEL_RATE_HZ
    dim = N_MELS
    lookahead_samples = N_FFT // 2
    """Samples past a frame's centre that it reads: a frame is ready 12.5 ms after its centre."""

    def __init__(self) -> None:
        self._filters = torch.from_numpy(mel_filters())
        self._window = torch.hann_window(N_FFT, periodic=True)
        self.reset()

    def reset(self) -> None:
        """Start a new stream."""
        # _buffer holds the zero-padded signal from padded position _offset (= 160 · next frame) on
        self._buffer = np.zeros(N_FFT // 2, dtype=np.float32)
        self._offset = 0
        self._next = 0  # the next frame to emit
        self._received = 0
        self._finished = False

    @property
    def frames_emitted(self) -> int:
        return self._next

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Append mono 16 kHz samples [n]; returns the rows that became computable, float32 [k, 80]."""
        if self._finished:
            raise RuntimeError("MelStream.push after finish(); call reset() first")
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._buffer = np.concatenate([self._buffer, samples])
        self._received += samples.shape[0]
        # frame j needs padded positions [160 j, 160 j + 400) → ready when the buffer reaches them
        ready = (self._offset + self._buffer.shape[0] - N_FFT) // HOP + 1 if self._buffer.shape[0] >= N_FFT else 0
        ready = max(ready, self._next)
        return self._emit(ready)

    def finish(self) -> np.ndarray:
        """End of audio: zero-pad like the offline extractor and return the remaining rows [k, 80]."""
        total = mel_num_frames(self._received)
        self._buffer = np.concatenate([self._buffer, np.zeros(N_FFT // 2, dtype=np.float32)])
        rows = self._emit(total)
        self._finished = True
        return rows

    def _emit(self, stop: int) -> np.ndarray:
        if stop <= self._next:
            return np.zeros((0, N_MELS), dtype=np.float32)
        begin = self._next * HOP - self._offset
        end = (stop - 1) * HOP + N_FFT - self._offset
        piece = torch.from_numpy(self._buffer[begin:end])
        with torch.inference_mode():
            rows = log_mel_padded(piece[None], self._filters, self._window, exact=True)[0].numpy()
        self._next = stop
        drop = self._next * HOP - self._offset  # keep from the next frame's first padded position on
        self._buffer = self._buffer[drop:]
        self._offset += drop
        return rows.astype(np.float32, copy=False)

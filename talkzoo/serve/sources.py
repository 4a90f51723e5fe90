"""Where a session's audio comes from, 20 ms at a time: the microphone (through a small jitter buffer), an uploaded
file (decoded from the request body in memory: no path ever comes from the client), or silence."""

from __future__ import annotations

import io
from collections import deque

import av
import numpy as np

from talkzoo.zoo.audio.types import SAMPLE_RATE


class UploadError(ValueError):
    """An uploaded file the server cannot use; the message is shown in the page."""


class MicBuffer:
    """Microphone samples (16 kHz mono float32) between their arrival and the session's 20 ms tick.

    The page's packets arrive on the browser's clock, the session ticks on the server's: the buffer waits until
    `prime` blocks are in before it gives any (so network jitter does not starve it), gives silence and re-primes
    when it runs dry, and drops the oldest samples when more than `max_blocks` pile up (a browser clock that runs
    fast, a burst after a stall). Each block taken carries the arrival time of the packet that held its last sample.
    """

    def __init__(self, block: int, prime: int = 2, max_blocks: int = 6) -> None:
        self.block, self.prime, self.max_blocks = block, prime, max_blocks
        self.clear()

    def clear(self) -> None:
        self._chunks: deque[tuple[np.ndarray, float]] = deque()
        self.size = 0
        self.primed = False
        self.underruns = 0
        self.dropped = 0

    def add(self, samples: np.ndarray, arrival: float) -> None:
        if samples.size == 0:
            return
        self._chunks.append((np.asarray(samples, np.float32), arrival))
        self.size += samples.size
        excess = self.size - self.max_blocks * self.block
        if excess > 0:
            self._drop(self.size - self.prime * self.block)

    def _drop(self, count: int) -> None:
        self.dropped += count
        while count > 0 and self._chunks:
            chunk, arrival = self._chunks[0]
            if chunk.size <= count:
                self._chunks.popleft()
                self.size -= chunk.size
                count -= chunk.size
            else:
                self._chunks[0] = (chunk[count:], arrival)
                self.size -= count
                count = 0

    def take(self, now: float) -> tuple[np.ndarray, float]:
        """One block of samples and the arrival time of its last sample (silence, arriving now, when not primed)."""
        if not self.primed:
            if self.size < self.prime * self.block:
                return np.zeros(self.block, np.float32), now
            self.primed = True
        if self.size < self.block:
            self.primed = False
            self.underruns += 1
            return np.zeros(self.block, np.float32), now
        parts, need, arrival = [], self.block, now
        while need > 0:
            chunk, arrival = self._chunks[0]
            if chunk.size <= need:
                self._chunks.popleft()
                parts.append(chunk)
                need -= chunk.size
            else:
                parts.append(chunk[:need])
                self._chunks[0] = (chunk[need:], arrival)
                need = 0
        self.size -= self.block
        return np.concatenate(parts), arrival


class FileSource:
    """An uploaded utterance played at real time: `take()` gives the next block (zero-padded at the end)."""

    def __init__(self, samples: np.ndarray, block: int) -> None:
        self.samples, self.block, self.position = np.asarray(samples, np.float32), block, 0

    @property
    def done(self) -> bool:
        return self.position >= len(self.samples)

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def take(self) -> np.ndarray:
        out = np.zeros(self.block, np.float32)
        piece = self.samples[self.position : self.position + self.block]
        out[: piece.size] = piece
        self.position += self.block
        return out


def decode_upload(data: bytes, max_seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """An uploaded audio (or video-with-sound) file's bytes → float32 mono samples [N] at `sample_rate`.

    UploadError (with a message for the page) when it is not decodable, has no audio, is shorter than 0.2 s or
    longer than `max_seconds` (decoding stops there: a long file costs no more than the limit)."""
    if not data:
        raise UploadError("the upload is empty; choose an audio file (wav, mp3, ogg, m4a, webm)")
    limit = int(max_seconds * sample_rate)
    chunks: list[np.ndarray] = []
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise UploadError("the file has no audio stream; choose an audio file (wav, mp3, ogg, m4a, webm)")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            for frame in container.decode(container.streams.audio[0]):
                frame.pts = None  # let the resampler count samples; source timestamps may jump
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    total += chunks[-1].size
                if total > limit:
                    raise UploadError(f"the audio is longer than the server's limit of {max_seconds:g} s; cut it")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except UploadError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise UploadError(f"the file could not be decoded as audio ({type(exc).__name__}); try a wav or mp3") from exc
    wave = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    if wave.size > limit:
        raise UploadError(f"the audio is longer than the server's limit of {max_seconds:g} s; cut it")
    if wave.size < 0.2 * sample_rate:
        raise UploadError("the audio is shorter than 0.2 s; choose a longer file")
    return np.clip(wave, -1.0, 1.0)

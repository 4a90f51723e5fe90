"""The two outgoing WebRTC tracks of a session, on one clock.

Stream time s (seconds of session audio since the session started at T0) goes out at wall time T0 + D + s on both
tracks: audio block k (stream time k·20 ms) at T0 + D + k·20 ms, video slot n (stream time n / fps) at
T0 + D + n / fps. aiortc's RTCP sender reports map each track's RTP timestamps to the wall time their packets left,
so a receiver (the browser) lines the two up by those reports: the frame of stream time s plays with the sound of s.

The video track shows, at slot n, the newest rendered frame with index ≤ n: frame n itself when the avatar keeps
up; when it does not (or skipped frame n), the previous frame again — the frame rate drops, the audio stays
continuous, and nothing drifts: no frame is ever shown before its time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import numpy as np
from aiortc import MediaStreamTrack

from talkzoo.serve.factory import BLOCK

if TYPE_CHECKING:
    from talkzoo.serve.session import Session

VIDEO_CLOCK = 90000
AUDIO_RATE = 16000
OPUS_RATE = 48000
OPUS_BLOCK = 960  # 20 ms


async def sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


class AvatarAudioTrack(MediaStreamTrack):
    """The session's audio, delayed by D: the audio the frames were made from, as 20 ms frames of 48 kHz stereo —
    the Opus encoder's own format. Fed 16 kHz, its resampler would hold each frame back until the next one came,
    and every packet would leave 20 ms after its slot (the receiver would then play the sound 20 ms late)."""

    kind = "audio"

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.block = 0
        self._fed = 0  # the next session block to resample
        self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=OPUS_RATE, frame_size=OPUS_BLOCK)
        self._ready: deque[av.AudioFrame] = deque()

    async def recv(self) -> av.AudioFrame:
        session = self.session
        await session.started.wait()
        k = self.block
        self.block += 1
        await sleep_until(session.t0 + session.delay_s + k * BLOCK / AUDIO_RATE)
        while not self._ready:  # the resampler releases block k once block k + 1 is in (D ≥ 40 ms: it has arrived)
            pcm = (np.clip(session.take_output_audio(self._fed), -1.0, 1.0) * 32767.0).astype(np.int16)[None]
            block = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            block.sample_rate, block.pts, block.time_base = AUDIO_RATE, self._fed * BLOCK, Fraction(1, AUDIO_RATE)
            self._fed += 1
            self._ready.extend(self._resampler.resample(block))
        frame = self._ready.popleft()
        frame.pts = k * OPUS_BLOCK
        frame.time_base = Fraction(1, OPUS_RATE)
        return frame


class AvatarVideoTrack(MediaStreamTrack):
    """The session's frames on the video clock (slot n = stream time n / fps, sent at T0 + D + n / fps)."""

    kind = "video"

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.slot = 0
        self.encode_s = 0.0  # how long the sender takes from recv() returning to asking for the next frame
        self._returned: float | None = None

    async def recv(self) -> av.VideoFrame:
        session = self.session
        await session.started.wait()
        period = 1.0 / session.fps
        now = time.monotonic()
        if self._returned is not None:  # VP8 encoding + sending: hand the frame over that much early, so its
            took = now - self._returned  # packets leave at its slot (the RTCP reports map RTP time to send time)
            self.encode_s = 0.9 * self.encode_s + 0.1 * min(took, 0.5 * period)
        n = self.slot
        due = session.t0 + session.delay_s + n * period
        if now > due + period:  # the loop was held up: skip the slots that passed (the audio is not skipped)
            n = int((now - session.t0 - session.delay_s) / period)
            due = session.t0 + session.delay_s + n * period
        self.slot = n + 1
        await sleep_until(due - self.encode_s)
        self._returned = time.monotonic()
        frame = session.frame_for_slot(n)
        frame.pts = int(round(n * VIDEO_CLOCK / session.fps))
        frame.time_base = Fraction(1, VIDEO_CLOCK)
        return frame

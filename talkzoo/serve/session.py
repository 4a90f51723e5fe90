"""One viewer: a peer connection, its own Avatar, and the clock that keeps sound and frames together.

Timeline (T0 = when the connection came up, D = `delay_s`, the session's latency budget):

- every 20 ms the pacer takes one block of audio from the active source (microphone, uploaded file, or silence
  when there is none: the avatar idles) and queues it; block k is stream time [k·20 ms, (k+1)·20 ms);
- the inference task pushes each block into the avatar in a worker thread; the frames that became computable
  are kept with the arrival time of that block (the block holding the last sample they depend on);
- the tracks (talkzoo.serve.tracks) send stream time s at T0 + D + s: the audio block, and the newest frame
  rendered for it. A frame that could not be rendered before its slot (the method is slower than real time) is
  skipped before rendering (`Avatar.render_filter`): the frame rate drops, the audio never stops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from talkzoo.serve.config import ServeConfig
from talkzoo.serve.engines import ProcessEngine, Schedule, ThreadEngine
from talkzoo.serve.factory import BLOCK, BLOCK_S, AvatarInfo
from talkzoo.serve.sources import FileSource, MicBuffer
from talkzoo.serve.stats import FrameStats
from talkzoo.serve.tracks import AvatarAudioTrack, AvatarVideoTrack

log = logging.getLogger("talkzoo.serve")

REPORT_S = 0.5  # stats to the page
LOG_S = 10.0  # stats to the server log
CONNECT_TIMEOUT_S = 30.0
MAX_MESSAGE = 4096


def shorten_receiver_buffer(receiver: Any) -> None:
    """aiortc's audio receiver holds 4 packets (80 ms) before it decodes one; the session's MicBuffer already
    absorbs network jitter, so let it hold one (a packet is released when the next arrives: 20 ms). Left as it is
    when aiortc's internals differ."""
    name = "_RTCRtpReceiver__jitter_buffer"
    buffer = getattr(receiver, name, None)
    if buffer is not None and hasattr(buffer, "_prefetch"):
        setattr(receiver, name, JitterBuffer(capacity=buffer.capacity, prefetch=1))


@dataclass
class Block:
    index: int
    samples: np.ndarray
    arrival: float


@dataclass
class FrameRecord:
    index: int
    frame: av.VideoFrame
    arrival: float  # when the block that made it computable arrived
    ready: float  # when it was rendered


class Session:
    """A viewer's session. `answer(offer)` → the SDP answer; it starts streaming once the connection is up and
    ends on `close()`, a failed or closed connection, a silent page (`config.heartbeat_s`) or its time limit."""

    def __init__(
        self,
        sid: str,
        engine: ThreadEngine | ProcessEngine,
        info: AvatarInfo,
        config: ServeConfig,
        delay_s: float,
        on_closed: Callable[[Session], None],
        sessions: Callable[[], int] = lambda: 1,
    ) -> None:
        self.sid, self.engine, self.config = sid, engine, config
        self.delay_s = float(delay_s)
        self.fps = float(info.fps)
        self.lookahead_frames = int(info.lookahead_frames)
        self._on_closed, self._sessions = on_closed, sessions
        self.t0 = 0.0
        self.started = asyncio.Event()
        self.closed = False
        self.close_reason = ""
        self.source = "none"
        self.mic = MicBuffer(BLOCK)
        self.file: FileSource | None = None
        self.file_start = 0
        self.next_block = 0
        self.stats = FrameStats()
        self.created = self.last_heard = time.monotonic()
        self.pc = RTCPeerConnection()
        self.channel: Any = None
        self._output_audio: dict[int, np.ndarray] = {}
        self._frames: dict[int, FrameRecord] = {}
        self._newest = -1
        self._sent: FrameRecord | None = None
        blank = np.full((info.height, info.width, 3), 128, np.uint8)
        self._placeholder = av.VideoFrame.from_ndarray(blank, format="rgb24")
        self._pending: asyncio.Queue[Block] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []

    # ---- signalling ---------------------------------------------------------------------------------------------
    async def answer(self, sdp: str, kind: str) -> RTCSessionDescription:
        pc = self.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self._spawn(self._read_mic(track))

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            self.channel = channel
            channel.on("message", self._on_message)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "connected":
                self.start()
            elif pc.connectionState in ("failed", "closed"):
                await self.close(f"connection {pc.connectionState}")

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        for transceiver in pc.getTransceivers():
            if transceiver.kind == "audio":
                shorten_receiver_buffer(transceiver.receiver)
        pc.addTrack(AvatarAudioTrack(self))
        pc.addTrack(AvatarVideoTrack(self))
        await pc.setLocalDescription(await pc.createAnswer())
        self._spawn(self._watchdog())
        return pc.localDescription

    def start(self) -> None:
        if self.started.is_set() or self.closed:
            return
        self.t0 = time.monotonic()
        self.engine.start(Schedule(self.t0, self.delay_s, self.fps))
        self.started.set()
        for job in (self._pace(), self._infer(), self._report()):
            self._spawn(job)
        log.info("session %s started: delay %.0f ms (look-ahead %d frames = %.0f ms)", self.sid, 1000 * self.delay_s,
                 self.lookahead_frames, 1000 * self.lookahead_frames / self.fps)  # fmt: skip

    async def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed, self.close_reason = True, reason
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self.engine.close()
        await self.pc.close()
        summary = self.stats.summary()
        log.info("session %s closed (%s): %s", self.sid, reason, self._summary_line(summary))
        self._on_closed(self)

    # ---- sources ------------------------------------------------------------------------------------------------
    def play(self, samples: np.ndarray) -> int:
        """Speak an uploaded utterance from the next block that starts a video frame (when blocks tile frames, as
        at 25 fps: the utterance's frames then line up with its first sample); returns that block's index."""
        start = self.next_block
        per_frame = 16000 / self.fps / BLOCK
        if per_frame == int(per_frame):
            start = -(-start // int(per_frame)) * int(per_frame)
        self.file, self.file_start = FileSource(samples, BLOCK), start
        self.source = "file"
        self.notify({"type": "file", "state": "playing", "seconds": round(self.file.seconds, 2),
                     "start_block": start})  # fmt: skip
        return start

    def _take_block(self, k: int, now: float) -> tuple[np.ndarray, float]:
        if self.source == "file" and self.file is not None:
            if k < self.file_start:
                return np.zeros(BLOCK, np.float32), now
            samples = self.file.take()
            if self.file.done:
                self.file, self.source = None, "none"
                self.notify({"type": "file", "state": "done", "end_block": k + 1})
            return samples, now
        if self.source == "mic":
            return self.mic.take(now)
        return np.zeros(BLOCK, np.float32), now

    async def _read_mic(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if self.source != "mic":
                continue
            arrival = time.monotonic()
            frame.pts = None  # the resampler counts samples itself
            for out in resampler.resample(frame):
                self.mic.add(out.to_ndarray().reshape(-1), arrival)

    def _on_message(self, message: Any) -> None:
        self.last_heard = time.monotonic()
        if not isinstance(message, str) or len(message) > MAX_MESSAGE:
            return
        try:
            data = json.loads(message)
        except ValueError:
            return
        if isinstance(data, dict) and data.get("type") == "source" and data.get("source") in ("mic", "none"):
            self.source = data["source"]
            self.file = None
            self.mic.clear()

    def notify(self, data: dict[str, Any]) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(data))

    # ---- the clock ----------------------------------------------------------------------------------------------
    async def _pace(self) -> None:
        """Every 20 ms of wall time, one block of stream audio (catching up if the loop was held up)."""
        while True:
            k = self.next_block
            due = self.t0 + (k + 1) * BLOCK_S
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            samples, arrival = self._take_block(k, now)
            self._output_audio[k] = samples
            self._pending.put_nowait(Block(k, samples, arrival))
            self.next_block = k + 1
            if now - self.t0 > self.config.max_session_seconds:
                self.notify({"type": "closed", "reason": "the session reached its time limit; reconnect"})
                await self.close("time limit")
                return

    async def _infer(self) -> None:
        while True:
            block = await self._pending.get()
            samples = [block.samples]
            # Blocks that queued up while the avatar was busy go in as one push: a push's round trip (executor or
            # pipe, the event loop) costs the same for 20 ms of audio as for 200 ms, so on a loaded machine pushing
            # them one by one could fall further behind every second — a drift. The frames are timed from the
            # first of them (the earliest the audio could have made them computable: latency never under-reported).
            while not self._pending.empty():
                samples.append(self._pending.get_nowait().samples)
            rendered, skipped = await self.engine.push(np.concatenate(samples) if len(samples) > 1 else samples[0])
            ready = time.monotonic()
            self.stats.skipped += skipped
            for t, image in rendered:
                self._frames[t] = FrameRecord(
                    t, av.VideoFrame.from_ndarray(image, format="rgb24"), block.arrival, ready
                )
                self._newest = t

    def frame_for_slot(self, n: int) -> av.VideoFrame:
        """The newest rendered frame with index ≤ n (the one sent before when there is none newer)."""
        now = time.monotonic()
        stop = self._sent.index if self._sent is not None else -1
        chosen = None
        for t in range(min(n, self._newest), stop, -1):
            if t in self._frames:
                chosen = self._frames[t]
                break
        if chosen is not None:
            self.stats.departed(now, now - chosen.arrival)
            self._sent = chosen
            for t in [t for t in self._frames if t < chosen.index]:
                del self._frames[t]
        self.stats.slot()
        return self._sent.frame if self._sent is not None else self._placeholder

    def take_output_audio(self, k: int) -> np.ndarray:
        samples = self._output_audio.pop(k, None)
        for old in [i for i in self._output_audio if i < k]:
            del self._output_audio[old]
        return samples if samples is not None else np.zeros(BLOCK, np.float32)

    # ---- reporting and limits -----------------------------------------------------------------------------------
    def live(self) -> dict[str, Any]:
        now = time.monotonic()
        stats = self.stats.live(now)
        running = now - self.t0 if self.started.is_set() else 0.0
        degraded = running > self.delay_s + self.stats.window_s + 1 and stats["fps"] < 0.9 * self.fps
        return {
            "type": "stats", **stats, "target_fps": self.fps, "delay_ms": round(1000 * self.delay_s),
            "lookahead_ms": round(1000 * self.lookahead_frames / self.fps), "degraded": bool(degraded),
            "render_fps": round(1.0 / max(self.engine.cost_s, 1e-6), 1), "source": self.source,
            "sessions": self._sessions(), "seconds": round(running, 1),
        }  # fmt: skip

    async def _report(self) -> None:
        last_log = time.monotonic()
        while True:
            await asyncio.sleep(REPORT_S)
            self.notify(self.live())
            if time.monotonic() - last_log >= LOG_S:
                last_log = time.monotonic()
                log.info("session %s: %s", self.sid, self._summary_line(self.stats.summary()))

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            if not self.started.is_set() and now - self.created > CONNECT_TIMEOUT_S:
                await self.close("never connected")
                return
            if now - self.last_heard > self.config.heartbeat_s:
                await self.close(f"client vanished (nothing heard for {self.config.heartbeat_s:g} s)")
                return

    def _summary_line(self, s: dict[str, Any]) -> str:
        if not s["frames"]:
            return "no frame sent"
        return (f"{s['frames']} frames in {s['seconds']:.1f} s = {s['fps']} fps (target {self.fps:g}), latency "
                f"p50 {s['p50_ms']} ms p95 {s['p95_ms']} ms max {s['max_ms']} ms, {s['skipped']} skipped")  # fmt: skip

    def _spawn(self, job: Any) -> None:
        self._tasks.append(asyncio.ensure_future(job))

"""A live session's timing without a network: `talkzoo serve`'s schedule replayed on the real clock.

What the GPU kit measures for streaming (its machine has neither PyAV nor aiortc, so no WebRTC there), and what
`talkzoo bench --only streaming_engine` measures here beside the full loopback stream. Everything that decides when a
frame leaves is the session's (talkzoo.serve.session): audio arrives in 20 ms blocks on the wall clock; blocks that
queued up while the avatar was busy go in as one push, its frames timed from the first of them; frames that could
not make their slot are skipped before rendering (`FrameJudge`, the engines' rule); slot n leaves at
T0 + D + n / fps with the newest frame ≤ n rendered by then (the one before is repeated otherwise). What it leaves
out is the transport: no encoding, packets or client, and the avatar has the machine to itself.

latency = slot time − arrival of the audio block that made the frame computable (talkzoo.serve.stats' definition).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from talkzoo.serve.engines import FrameJudge, Schedule
from talkzoo.serve.factory import BLOCK, BLOCK_S


@dataclass(frozen=True)
class RenderedFrame:
    """Frame `index`: its audio's arrival (the first block of the push that made it) and when it was ready (s)."""

    index: int
    arrival: float
    ready: float


def loop_audio(audio: np.ndarray, seconds: float) -> np.ndarray:
    """Mono samples [n] at 16 kHz repeated or cut to `seconds` → float32 [round(seconds · 16000)]."""
    wave = np.asarray(audio, np.float32).reshape(-1)
    if wave.size == 0:
        raise ValueError("no audio to stream")
    count = int(round(seconds * 16000))
    return np.resize(wave, count).astype(np.float32)


def push_on_the_clock(avatar: Any, wave: np.ndarray, judge: FrameJudge, t0: float) -> tuple[list[RenderedFrame], int]:
    """Feed `wave` in 20 ms blocks as they arrive (block k at t0 + (k + 1) · 20 ms), everything that has arrived in
    one push: the frames rendered with their times, and how many the judge skipped."""
    blocks = math.ceil(len(wave) / BLOCK)
    rendered: list[RenderedFrame] = []
    skipped, k = 0, 0
    while k < blocks:
        wait = t0 + (k + 1) * BLOCK_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        arrived = min(blocks, max(k + 1, int((time.monotonic() - t0) / BLOCK_S)))
        frames, missed = judge.push(avatar, wave[k * BLOCK : arrived * BLOCK])
        ready = time.monotonic()
        rendered += [RenderedFrame(t, t0 + (k + 1) * BLOCK_S, ready) for t, _ in frames]
        skipped += missed
        k = arrived
    return rendered, skipped


def send_slots(rendered: list[RenderedFrame], slots: int, t0: float, delay_s: float, fps: float) -> list[float]:
    """The video track's choice for slots 0 … slots − 1 (slot n at t0 + delay + n / fps): the newest frame ≤ n
    ready by then and newer than the last one sent. Returns the latency (s) of every distinct frame sent."""
    by_index = {f.index: f for f in rendered}
    latencies, last_sent = [], -1
    for n in range(slots):
        when = t0 + delay_s + n / fps
        chosen = next(
            (by_index[t] for t in range(n, last_sent, -1) if t in by_index and by_index[t].ready <= when), None
        )
        if chosen is not None:
            latencies.append(when - chosen.arrival)
            last_sent = chosen.index
    return latencies


def replay_stream(factory: Any, audio: np.ndarray, seconds: float, delay_s: float | None = None) -> dict[str, Any]:
    """One session of `seconds` of `audio` (looped) through a fresh avatar of `factory` (an AvatarFactory: `new`,
    `info`, `measure`, `delay_s`; measured here unless it was), paced by the wall clock. delay_s: the session's D
    (None: the server's budget).

    Returns fps (distinct frames sent per second of stream), latency p50 / p95 / max (ms), frames sent, skipped
    (not rendered: could not make their slot) and late (rendered, but after their slot), delay and look-ahead (ms),
    the render rate of the avatar alone, the output size and the networks' (native), the stream's length.
    """
    estimate = getattr(factory, "estimate", None) or factory.measure()  # measuring also warms the avatar up
    info = factory.info
    delay = factory.delay_s() if delay_s is None else float(delay_s)
    wave = loop_audio(audio, seconds)
    avatar = factory.new()
    t0 = time.monotonic()
    judge = FrameJudge(Schedule(t0, delay, info.fps), estimate.frame_s)
    rendered, skipped = push_on_the_clock(avatar, wave, judge, t0)
    slots = (max(f.index for f in rendered) + 1) if rendered else 0
    latencies = np.array(send_slots(rendered, slots, t0, delay, info.fps)) * 1000
    sent = len(latencies)
    percentile = (lambda q: round(float(np.percentile(latencies, q)), 1)) if sent else (lambda q: None)
    return {
        "method": info.method,
        "size": f"{info.height}x{info.width}",
        "native": f"{avatar.native[0]}x{avatar.native[1]}",
        "fps": round(sent * info.fps / slots, 2) if slots else 0.0,
        "target_fps": info.fps,
        "latency_p50_ms": percentile(50),
        "latency_p95_ms": percentile(95),
        "latency_max_ms": round(float(latencies.max()), 1) if sent else None,
        "frames": sent,
        "frames_skipped": skipped,
        "frames_late": len(rendered) - sent,
        "slots": slots,
        "delay_ms": round(1000 * delay),
        "lookahead_ms": round(1000 * info.lookahead_frames / info.fps),
        "render_fps_alone": round(1.0 / max(estimate.frame_s, 1e-9), 2),
        "seconds": round(len(wave) / 16000, 2),
    }

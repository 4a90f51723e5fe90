"""Measuring a served avatar on loopback (bench, e2e); runs to measure come from talkzoo.pipelines.tiny_runs.

`measure_stream` starts the real server in this process, connects a `LoopbackClient` that speaks a wave through its
microphone track (the browser's path: opus, the jitter buffer, the 20 ms pacer) and returns the server's
per-session figures: fps = distinct frames sent per second, latency p50/p95/max = frame departure − arrival of the
audio block that made it computable, plus what the client received. The client runs on the same machine and
takes its share of the CPU (VP8 and opus decoding), as a browser on the same machine would.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from talkzoo.serve.client import LoopbackClient
from talkzoo.serve.config import ServeConfig
from talkzoo.serve.engines import RemoteFactory
from talkzoo.serve.factory import AvatarFactory
from talkzoo.serve.replay import loop_audio
from talkzoo.serve.server import start_server
from talkzoo.serve.stats import FrameStats


def measure_stream(
    factory: AvatarFactory | RemoteFactory, wave: np.ndarray, seconds: float, warmup_s: float = 2.0
) -> dict[str, Any]:
    """Stream `wave` (16 kHz, looped to `seconds`) through the microphone of one loopback session; figures of the
    part after `warmup_s`."""
    return asyncio.run(_measure(factory, loop_audio(wave, seconds), seconds, warmup_s))


async def _measure(
    factory: AvatarFactory | RemoteFactory, speech: np.ndarray, seconds: float, warmup_s: float
) -> dict[str, Any]:
    server = await start_server(factory, ServeConfig(port=0, max_session_seconds=seconds + 60))
    try:
        async with LoopbackClient(f"http://127.0.0.1:{server.port}", mic=speech, keep_media=False) as client:
            client.send({"type": "source", "source": "mic"})
            await asyncio.sleep(warmup_s)
            session = next(iter(server.state.sessions.values()))
            session.stats = FrameStats()  # measure from here on (the first frames pay one-off costs)
            received = len(client.recording.video_pts)
            await asyncio.sleep(seconds - warmup_s)
            summary = session.stats.summary()
            received = len(client.recording.video_pts) - received
            live = session.live()
    finally:
        await server.stop()
    estimate = factory.estimate
    return {
        "fps": summary["fps"], "latency_p50_ms": summary["p50_ms"], "latency_p95_ms": summary["p95_ms"],
        "latency_max_ms": summary["max_ms"], "frames": summary["frames"], "frames_skipped": summary["skipped"],
        "seconds": summary["seconds"], "client_frames_per_s": received / max(seconds - warmup_s, 1e-6),
        "delay_ms": live["delay_ms"], "lookahead_ms": live["lookahead_ms"], "target_fps": factory.fps,
        "render_fps_alone": round(estimate.fps, 2) if estimate else None,
        "size": f"{factory.info.width}x{factory.info.height}",
    }  # fmt: skip

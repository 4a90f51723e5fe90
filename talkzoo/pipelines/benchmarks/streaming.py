"""Live streaming (`talkzoo serve`): one loopback session (aiortc client, no browser) speaking through its
microphone track; fps = distinct frames sent per second, latency p50/p95 = frame departure − arrival of the audio
block that made it computable (talkzoo.serve.measure). Target on 2 CPU cores, MODA at 128² with the CPU preset
widths: ≥ 25 fps, p50 ≤ 250 ms, p95 ≤ 400 ms (docs/serve.md).

Which run: TALKZOO_BENCH_SERVE_RUNS + TALKZOO_BENCH_SERVE_SPEAKER (+ TALKZOO_BENCH_SERVE_METHOD, default moda;
TALKZOO_BENCH_SERVE_OPTIONS "k=v,k=v" Avatar options) name a trained run; otherwise every MODA stage is fitted for
2 steps at 128² (64² with --quick) on a synthetic speaker — speed does not depend on training.

`streaming_engine`: the same run and audio through the session's schedule without the network
(talkzoo.serve.replay: no WebRTC, no client; what the GPU kit measures, its machine having no aiortc): the
difference between the two entries is what the transport costs on these cores.
"""

from __future__ import annotations

import os
from pathlib import Path

from talkzoo.pipelines.bench import BenchContext, register


def _bench_run(ctx: BenchContext) -> tuple[str, str, str, dict[str, str]]:
    """(method, runs, speaker, Avatar options) the streaming entries measure (see the module docstring)."""
    from talkzoo.pipelines.tiny_runs import make_tiny_runs
    from talkzoo.serve.command import parse_option

    runs, speaker = os.environ.get("TALKZOO_BENCH_SERVE_RUNS"), os.environ.get("TALKZOO_BENCH_SERVE_SPEAKER")
    method = os.environ.get("TALKZOO_BENCH_SERVE_METHOD", "moda")
    options = dict(parse_option(o) for o in os.environ.get("TALKZOO_BENCH_SERVE_OPTIONS", "").split(",") if o)
    if not (runs and speaker):
        size = 64 if ctx.quick else 128
        runs_path, speaker_path = make_tiny_runs(ctx.tmp / "tiny", method, size=size, seconds=4.0)
        runs, speaker = str(runs_path), str(speaker_path)
    return method, runs, speaker, options


@register("streaming")
def bench_streaming(ctx: BenchContext) -> dict[str, float]:
    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.serve.engines import InferenceProcess, RemoteFactory
    from talkzoo.serve.measure import measure_stream  # aiortc: only for this benchmark

    method, runs, speaker, options = _bench_run(ctx)
    device = "cuda" if ctx.cuda else "cpu"
    factory = RemoteFactory(InferenceProcess(method, runs, speaker, device, options))  # as `talkzoo serve` runs it
    try:
        result = measure_stream(factory, Speaker(Path(speaker)).audio(), seconds=8.0 if ctx.quick else 30.0)
    finally:
        factory.close()
    return {"method": method, **result}


@register("streaming_engine")
def bench_streaming_engine(ctx: BenchContext) -> dict[str, float]:
    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.serve.factory import AvatarFactory
    from talkzoo.serve.replay import replay_stream

    method, runs, speaker, options = _bench_run(ctx)
    factory = AvatarFactory.load(method, runs, speaker, "cuda" if ctx.cuda else "cpu", options)
    return replay_stream(factory, Speaker(Path(speaker)).audio(), seconds=8.0 if ctx.quick else 30.0)

"""Preprocessing speed: end-to-end frames per second of `talkzoo preprocess` (mel features) on the synthetic video.

Target (issue 3): ≥ 50 fps at 512² on 2 CPU cores, i.e. a 5-minute video in under 3 minutes. The time covers
probing, the face-track (crop) pass, decoding, MediaPipe, every file written and every array step; the input video
is synthesised once, outside the timing.
"""

from __future__ import annotations

import os
import shutil

from talkzoo.pipelines.bench import BenchContext, register


@register("preprocess")
def bench_preprocess(ctx: BenchContext) -> dict[str, float]:
    from talkzoo.datamodules.preprocess import PreprocessConfig, preprocess
    from talkzoo.datamodules.synthetic import synthesize

    seconds, size = (4.0, 256) if ctx.quick else (20.0, 512)
    source = ctx.tmp / "synth"
    synthesize(source, seconds=seconds, size=size, seed=0, progress=False)
    config = PreprocessConfig(size=size, workers=max(1, min(4, os.cpu_count() or 2)))
    out = ctx.tmp / "speaker"
    frame_pass: list[float] = []

    def run() -> None:
        shutil.rmtree(out, ignore_errors=True)
        result = preprocess(source / "raw.mp4", out, config, progress=False, log=False)
        frame_pass.append(result.seconds["frames"])

    elapsed = ctx.median_time(run, repeats=1 if ctx.quick else 3)
    frames = round(seconds * 25)
    return {
        "size": float(size),
        "frames": float(frames),
        "seconds_per_run": elapsed,
        "fps": frames / elapsed,
        "frame_pass_fps": frames / min(frame_pass),
        "load_avg_1min": os.getloadavg()[0],
    }

"""Synthetic speaker generation speed: frames per second, end to end (render, encode, write files and mp4)."""

from __future__ import annotations

from talkzoo.pipelines.bench import BenchContext, register


@register("synth")
def bench_synth(ctx: BenchContext) -> dict[str, float]:
    from talkzoo.datamodules.synthetic import synthesize

    seconds, size = (4.0, 256) if ctx.quick else (10.0, 512)
    counter = iter(range(10**6))

    def run() -> None:
        synthesize(ctx.tmp / f"run{next(counter)}", seconds=seconds, size=size, seed=0, progress=False)

    elapsed = ctx.median_time(run, repeats=1 if ctx.quick else 3)
    frames = round(seconds * 25)
    return {"size": float(size), "frames": float(frames), "seconds_per_run": elapsed, "fps": frames / elapsed}

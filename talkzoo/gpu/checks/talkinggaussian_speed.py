"""Section 6: TalkingGaussian speed — the face stage's training steps/s (render, losses, backward, AdamW step) and the
fused portrait's render frames/s, on gsplat's CUDA kernels and on the plain-torch rasteriser, with the number of
Gaussians (`talkzoo bench`'s TalkingGaussian entry: untrained branches, Gaussians on a head-sized shell; CUDA: 512²
with 30k face + 10k mouth Gaussians; the paper reports about 108 fps at 512²). Whether the two rasterisers draw the
same image is the GPU test tests/test_talkinggaussian_rasterizer.py (section 1).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from talkzoo.gpu.checks import CheckSpec
from talkzoo.gpu.checks.common import CheckContext, Outcome

CPU_REHEARSAL = {"face": 2000, "mouth": 500}  # Gaussians at the rehearsal's size: the same code, seconds not minutes
PAPER_FPS_512 = 108.0


def run(ctx: CheckContext, spec: CheckSpec) -> Outcome:
    import gsplat  # imported on CPU too: its version is reported, and the kit must carry the wheel

    from talkzoo.pipelines.bench import BenchContext
    from talkzoo.pipelines.benchmarks import talkinggaussian as bench_tg
    from talkzoo.zoo.talkinggaussian.rasterizer import gsplat_status

    outcome = Outcome()
    sizes: dict[str, int] = dict(bench_tg.CUDA) if ctx.cuda else {"size": ctx.profile.size, **CPU_REHEARSAL}
    available, reason = gsplat_status(torch.device(ctx.device))
    outcome.metric("gsplat_version", gsplat.__version__)
    outcome.metric("gsplat_available", available)
    outcome.metric("gsplat_reason", reason)
    outcome.metric("size", sizes["size"])
    outcome.metric("gaussians_face", sizes["face"])
    outcome.metric("gaussians_mouth", sizes["mouth"])
    bench = BenchContext(ctx.work, cuda=ctx.cuda, quick=ctx.profile.name != "cuda", repeats=ctx.profile.repeats)
    measured: dict[str, dict[str, Any]] = {}
    for backend in ("gsplat", "torch") if available else ("torch",):
        with outcome.attempt(backend):
            measured[backend] = bench_tg._measure(bench, ctx.device, backend, sizes)
            for name, value in measured[backend].items():
                outcome.metric(f"{backend}/{name}", value)
    if ctx.cuda:
        outcome.criterion("gsplat's CUDA kernels build and render", available, reason)
        if "gsplat" in measured:
            fps = measured["gsplat"]["render_fps"]
            outcome.metric("paper_512_fps", PAPER_FPS_512)
            outcome.note(f"gsplat renders the fused portrait at {fps:.1f} frames/s (the paper: {PAPER_FPS_512:g})")
    else:
        outcome.note("CPU rehearsal: gsplat's kernels are CUDA-only; the torch rasteriser ran")
    rates = [v for m in measured.values() for k, v in m.items() if k.endswith(("_per_s", "_fps"))]
    outcome.criterion("every backend trained and rendered (finite, positive rates)",
                      bool(rates) and all(math.isfinite(r) and r > 0 for r in rates),
                      ", ".join(f"{b}: {m['render_fps']:.2f} fps" for b, m in measured.items()))  # fmt: skip
    return outcome

"""Section 4: MODA speed with the `talkzoo bench` building blocks, and LPIPS on the device.

- portrait renderer frames/s at the profile's size (CUDA: 512², the paper's widths ngf 64, 8 levels; condition
  drawing included; fp32 and fp16 autocast), target ≥ 25 fps (benchmarks.renderer);
- audio → motion real-time factor of `MODA.predict_motion` with the log-mel encoder and with the wav2vec2-base-sized
  randomly initialised encoder (benchmarks.moda);
- FaCo-Net throughput: frames/s of the recipe-sized generator (configs/faconet.yaml) over a long sequence;
- LPIPS on the device: talkzoo's plain-torch LPIPS (AlexNet features + the linear heads shipped in torchmetrics)
  with a random AlexNet backbone (the ImageNet weights cannot be fetched offline), the device's distances against
  the CPU's (relative error ≤ 1e-2: TF32 convolutions on CUDA), image pairs/s; where torchvision is importable, our
  AlexNet features against torchvision's with the same weights.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from talkzoo.gpu.checks import CheckSpec
from talkzoo.gpu.checks.common import CheckContext, Outcome, timed

TARGET_RENDERER_FPS = 25.0
LPIPS_TOLERANCE = 1e-2
# torchvision's alexnet.features: the ReLU after each of the five convolutions (indices in the Sequential).
_TORCHVISION_RELUS = (1, 4, 7, 9, 11)
_TORCHVISION_CONVS = ((0, 64, 3, 11), (3, 192, 64, 5), (6, 384, 192, 3), (8, 256, 384, 3), (10, 256, 256, 3))


def _renderer(ctx: CheckContext, outcome: Outcome, bench: Any) -> None:
    from talkzoo.pipelines.benchmarks import renderer as renderer_bench

    ngf, downs, max_channels, batch = ctx.profile.renderer
    size = ctx.profile.size
    model = renderer_bench._renderer(size, ngf, downs, max_channels, ctx.device)
    fps = renderer_bench._fps(bench, model, size, batch)
    outcome.metric("renderer/size", size)
    outcome.metric("renderer/widths", f"ngf {ngf}, {downs} levels, ≤ {max_channels} channels, batch {batch}")
    outcome.metric("renderer/fps", fps)
    if ctx.cuda:
        fp16 = renderer_bench._fps(bench, model, size, batch, autocast=True)
        outcome.metric("renderer/fp16_fps", fp16)
        outcome.metric("target/renderer_25fps_met", max(fps, fp16) >= TARGET_RENDERER_FPS)


def _motion(ctx: CheckContext, outcome: Outcome, bench: Any) -> None:
    from talkzoo.pipelines.benchmarks import moda as moda_bench

    seconds = ctx.profile.audio_seconds
    wave = np.random.default_rng(0).standard_normal(int(seconds * 16000)).astype(np.float32) * 0.1
    outcome.metric("motion/audio_seconds", seconds)
    for encoder in ("mel", "wav2vec2"):
        with outcome.attempt(f"motion_{encoder}"):
            model = moda_bench._model(encoder, ctx.device)
            elapsed = bench.median_time(lambda m=model: m.predict_motion(wave), repeats=1 if encoder != "mel" else None)
            outcome.metric(f"motion/{encoder}_realtime_factor", seconds / elapsed)


def _faconet(ctx: CheckContext, outcome: Outcome, bench: Any) -> None:
    from talkzoo.zoo.faconet import FaCoGenerator

    recipe = yaml.safe_load((ctx.config_dir / "faconet.yaml").read_text())
    widths = recipe["model"]["init_args"]["generator"]["init_args"]
    generator = FaCoGenerator(**widths).to(ctx.device).eval()
    frames = ctx.profile.faconet_frames
    g = torch.Generator().manual_seed(0)
    lips = torch.randn(1, frames, generator.lip_points, 3, generator=g).to(ctx.device)
    eyes = torch.randn(1, frames, generator.eye_points, 3, generator=g).to(ctx.device)
    subject = torch.randn(1, generator.num_points, 3, generator=g).to(ctx.device)

    def compose() -> None:
        with torch.no_grad():
            for s in range(0, frames, 4096):  # FaCoNet.compose's chunking
                generator(lips[:, s : s + 4096], eyes[:, s : s + 4096], subject)

    outcome.metric("faconet/frames", frames)
    outcome.metric("faconet/frames_per_s", frames / bench.median_time(compose))


def _random_alexnet(path: Path) -> None:
    """A random AlexNet state dict in torchvision's key layout (what `LPIPS(backbone_weights=...)` loads)."""
    g = torch.Generator().manual_seed(0)
    state = {}
    for index, out, inp, kernel in _TORCHVISION_CONVS:
        state[f"features.{index}.weight"] = (
            torch.randn(out, inp, kernel, kernel, generator=g) / (inp * kernel**2) ** 0.5
        )
        state[f"features.{index}.bias"] = torch.randn(out, generator=g) * 0.01
    torch.save(state, path)


def _lpips(ctx: CheckContext, outcome: Outcome, bench: Any, tmp: Path) -> None:
    from talkzoo.zoo.losses.lpips import LPIPS

    weights = tmp / "alexnet_random.pth"
    _random_alexnet(weights)
    size, batch = ctx.profile.size, ctx.profile.lpips_batch
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(batch, 3, size, size, generator=g), torch.rand(batch, 3, size, size, generator=g)
    cpu = LPIPS(weights)(x, y)
    metric = LPIPS(weights).to(ctx.device)
    xd, yd = x.to(ctx.device), y.to(ctx.device)
    with torch.no_grad():
        device_distance, _ = timed(ctx.device, lambda: metric(xd, yd))
        elapsed = bench.median_time(lambda: metric(xd, yd))
    relative = float(((device_distance.cpu() - cpu).abs() / cpu.abs().clamp_min(1e-8)).max())
    outcome.metric("lpips/backbone", "random AlexNet (ImageNet weights not available offline)")
    outcome.metric("lpips/pairs_per_s", batch / elapsed)
    outcome.metric("lpips/device_vs_cpu_max_rel_error", relative)
    outcome.criterion(f"LPIPS on {ctx.device} = LPIPS on CPU (≤ {LPIPS_TOLERANCE:g} relative)",
                      relative <= LPIPS_TOLERANCE, f"{relative:.2g}")  # fmt: skip
    try:
        import torchvision  # noqa: F401 - only where it is installed (the GPU check machine): a cross-check
    except ImportError:
        outcome.note("torchvision not importable here: the AlexNet cross-check ran only where it is")
        return
    from torchvision.models import alexnet

    reference = alexnet(weights=None)
    reference.load_state_dict(torch.load(weights, weights_only=True), strict=False)
    reference = reference.features.to(ctx.device).eval()
    inputs = (xd * 2 - 1 - metric.shift) / metric.scale
    with torch.no_grad():
        ours = metric.features(inputs)
        theirs, h = [], inputs
        for index, layer in enumerate(reference):
            h = layer(h)
            if index in _TORCHVISION_RELUS:
                theirs.append(h)
    worst = max(float((a - b).abs().max() / b.abs().max().clamp_min(1e-8)) for a, b in zip(ours, theirs, strict=True))
    outcome.metric("lpips/alexnet_vs_torchvision_max_rel_error", worst)
    outcome.criterion("our AlexNet features = torchvision's (same weights, ≤ 1e-3)", worst <= 1e-3, f"{worst:.2g}")


def run(ctx: CheckContext, spec: CheckSpec) -> Outcome:
    from talkzoo.pipelines.bench import BenchContext

    outcome = Outcome()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        bench = BenchContext(tmp, cuda=ctx.cuda, quick=ctx.profile.name != "cuda", repeats=ctx.profile.repeats)
        with outcome.attempt("renderer"):
            _renderer(ctx, outcome, bench)
        _motion(ctx, outcome, bench)
        with outcome.attempt("faconet"):
            _faconet(ctx, outcome, bench)
        with outcome.attempt("lpips"):
            _lpips(ctx, outcome, bench, tmp)
    outcome.criterion("every part ran", not outcome.errors, ", ".join(outcome.errors) or "all measured")
    return outcome

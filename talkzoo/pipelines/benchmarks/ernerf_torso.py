"""ER-NeRF torso speed: training pixels/s (torso field forward + backward + AdamW on one frame's random pixels) and
full-portrait render frames/s (head volume render + torso field + compositing bg → torso → head), paper-sized
networks (torso grid 16 levels × 2, 2^16 entries; the head as in benchmarks/ernerf.py: its occupancy grid set to a
head-sized ball). CPU: 128², 4096 pixels a step; CUDA: 512², 65,536 pixels a step (the head with nerfacc).
"""

from __future__ import annotations

import torch

from talkzoo.pipelines.bench import BenchContext, register


def _measure(ctx: BenchContext, device: str, backend: str, size: int, pixels: int) -> dict[str, float]:
    from talkzoo.lightning_modules.ernerf_torso import ERNeRFTorso
    from talkzoo.pipelines.benchmarks.ernerf import _batch, _module
    from talkzoo.zoo.ernerf.torso_field import TorsoField

    head = _module(device, backend, size)
    chunk = 65536 if device == "cuda" else 16384
    module = ERNeRFTorso(TorsoField(), head=head, val_chunk=chunk, pixels_per_step=pixels, cpu_pixels_per_step=pixels)
    module = module.to(device)
    batch = {k: v.to(device) for k, v in _batch(size, device).items()}
    module.train()
    optimizer = torch.optim.AdamW(module.field.parameters(), lr=1e-3, betas=(0.0, 0.99))

    def train_step() -> None:
        loss = module.training_step(batch, 0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    module.log_dict = lambda *args, **kwargs: None  # type: ignore[method-assign]  # no trainer attached
    train_s = ctx.median_time(train_step, repeats=3 if ctx.quick else 5)
    module.eval()
    render_s = ctx.median_time(lambda: module.render_frame(batch), repeats=1 if ctx.quick else 3)
    return {"train_pixels_per_s": pixels / train_s, "render_fps": 1.0 / render_s}


@register("ernerf_torso")
def bench_ernerf_torso(ctx: BenchContext) -> dict[str, float]:
    results: dict[str, float] = {}
    pixels = 4096
    for name, value in _measure(ctx, "cpu", "torch", 128, pixels).items():
        results[f"cpu_128_{name}"] = value
    results["cpu_train_pixels"] = float(pixels)
    if ctx.cuda:
        for name, value in _measure(ctx, "cuda", "nerfacc", 512, 65536).items():
            results[f"cuda_512_{name}"] = value
    return results

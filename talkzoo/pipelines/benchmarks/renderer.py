"""MODA portrait renderer speed: frames/s of condition drawing + generator at 128² on the CPU (the CPU preset's
networks and MODA's full-size generator), and at 512² (full size) when CUDA is available (fp32 and fp16 autocast)."""

from __future__ import annotations

import numpy as np
import torch

from talkzoo.pipelines.bench import BenchContext, register


def _renderer(size: int, ngf: int, num_downs: int, max_channels: int, device: str) -> object:
    from talkzoo.datamodules.speaker_info import SpeakerInfo
    from talkzoo.lightning_modules.portrait_renderer import PortraitRenderer
    from talkzoo.zoo.portrait import Camera, UNetGenerator

    model = PortraitRenderer(UNetGenerator(19, 3, ngf, num_downs, max_channels), perceptual="feature_matching")
    reference = np.zeros((size, size, 3), dtype=np.uint8)
    camera = Camera(2.5 * size, size / 2, size / 2, size, size)
    model.set_speakers([SpeakerInfo("bench", 25.0, 16000, camera, (size, size), 1000, 1000, reference=reference,
                                    thickness=1)])  # fmt: skip
    return model.to(device).eval()


def _fps(ctx: BenchContext, model: object, size: int, batch: int, autocast: bool = False) -> float:
    from talkzoo.zoo.portrait import condition_image

    rng = np.random.default_rng(0)
    mesh = rng.normal(0.0, size / 8, (478, 3)).astype(np.float32)
    shoulders = rng.normal(0.0, size / 4, (18, 3)).astype(np.float32)
    pose = np.eye(4, dtype=np.float32)
    pose[2, 3] = 2.5 * size
    camera = model.camera  # type: ignore[attr-defined]

    def run() -> None:
        conds = np.stack([condition_image(mesh, shoulders, pose, camera, size, size) for _ in range(batch)])
        with torch.autocast("cuda", dtype=torch.float16, enabled=autocast):
            model.render(conds, np.arange(batch))  # type: ignore[attr-defined]

    return batch / ctx.median_time(run, repeats=2 if ctx.quick else ctx.repeats)


@register("renderer")
def bench_renderer(ctx: BenchContext) -> dict[str, float]:
    results: dict[str, float] = {}
    results["cpu_128_preset_fps"] = _fps(ctx, _renderer(128, 16, 5, 128, "cpu"), 128, 8)
    results["cpu_128_full_fps"] = _fps(ctx, _renderer(128, 64, 7, 512, "cpu"), 128, 4)
    if ctx.cuda:
        full = _renderer(512, 64, 8, 512, "cuda")
        results["cuda_512_fps"] = _fps(ctx, full, 512, 16)
        results["cuda_512_fp16_fps"] = _fps(ctx, full, 512, 16, autocast=True)
    return results

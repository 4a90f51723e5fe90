"""ER-NeRF head speed: training rays/s (forward + backward + AdamW step, one frame's rays) and full-frame render
frames/s of the paper-sized head field (12-level tri-plane, 2^14 tables, 128³ grid). CPU: 128², torch sampler.
CUDA: 512² as well, nerfacc marching vs the torch sampler (the paper: 34 fps at 512² on an RTX 3080 Ti class GPU).

The field is untrained, so the occupancy grid is set to a head-sized ball (radius 0.6 of the box, ~the fraction a
trained head occupies); the numbers measure the renderer's cost for that occupancy, not a trained model's.
"""

from __future__ import annotations

import torch

from talkzoo.pipelines.bench import BenchContext, register


def _module(device: str, backend: str, size: int) -> object:
    from talkzoo.lightning_modules.ernerf_head import ERNeRFHead
    from talkzoo.zoo.ernerf import HeadField
    from talkzoo.zoo.rendering import GridSampler

    sampler = GridSampler(backend=backend, resolution=128, n_samples=32, max_samples=16)
    module = ERNeRFHead(HeadField(audio_in=80), sampler, val_chunk=65536 if device == "cuda" else 8192)
    module.box_scale.fill_(1.0 / 140.0 * 128 / size)  # a head ~ half the frame wide
    est = sampler.estimator
    centres = (est.grid_coords.float() + 0.5) / 128 * 2 - 1
    est.binaries = (centres.norm(dim=-1) < 0.6).view(est.binaries.shape)
    return module.to(device)


def _batch(size: int, device: str) -> dict[str, torch.Tensor]:
    f = 2.5 * size
    pose = torch.eye(4)
    pose[2, 3] = f
    return {
        "image": torch.rand(1, 3, size, size), "torso": torch.rand(1, 4, size, size),
        "background": torch.rand(1, 3, size, size), "pose": pose[None],
        "intrinsics": torch.tensor([[f, f, size / 2, size / 2]]), "blink": torch.zeros(1),
        "landmarks": torch.rand(1, 478, 3) * size, "audio": torch.randn(1, 8, 16, 80),
        "index": torch.zeros(1, dtype=torch.long),
    }  # fmt: skip


def _measure(ctx: BenchContext, device: str, backend: str, size: int, rays: int) -> dict[str, float]:
    module = _module(device, backend, size)
    batch = {k: v.to(device) for k, v in _batch(size, device).items()}
    module.train()
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3, betas=(0.0, 0.99))
    pixels = torch.stack((torch.randint(0, size, (rays,)), torch.randint(0, size, (rays,))), -1).float().to(device)

    def train_step() -> None:
        out = module.render(batch, pixels)
        loss = (out["color"] - 0.5).square().mean() + out["opacity"].mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    train_s = ctx.median_time(train_step, repeats=3 if ctx.quick else 5)
    module.eval()
    render_s = ctx.median_time(lambda: module.render_frame(batch), repeats=1 if ctx.quick else 3)
    return {"train_rays_per_s": rays / train_s, "render_fps": 1.0 / render_s}


@register("ernerf")
def bench_ernerf(ctx: BenchContext) -> dict[str, float]:
    results: dict[str, float] = {}
    rays = 1024 if ctx.quick else 4096
    for name, value in _measure(ctx, "cpu", "torch", 128, rays).items():
        results[f"cpu_128_{name}"] = value
    results["cpu_train_rays"] = float(rays)
    if ctx.cuda:
        for backend in ("nerfacc", "torch"):
            for name, value in _measure(ctx, "cuda", backend, 512, 65536).items():
                results[f"cuda_512_{backend}_{name}"] = value
        results["cuda_512_target_fps"] = 34.0
    return results

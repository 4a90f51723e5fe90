"""TalkingGaussian speed: face-stage training steps/s (render + L1/DSSIM + motion terms, backward, AdamW step; one
frame, motion network on) and fused full-frame render frames/s (face + mouth branches splatted, composited over
torso and background), with the number of Gaussians. CPU: 128², the torch rasteriser, the CPU presets' caps (6000
face + 2000 mouth Gaussians). CUDA: 512² with 30k + 10k Gaussians, gsplat vs the torch rasteriser (the paper: about
108 fps at 512² on an RTX 3080 Ti class GPU).

The branches are untrained: Gaussians on a head-sized sphere shell filling about half the frame, with the sizes
3DGS initialises (nearest-neighbour distances); the numbers measure the rasteriser and motion networks at that
coverage, not a trained model's.
"""

from __future__ import annotations

import torch

from talkzoo.pipelines.bench import BenchContext, register

CPU = {"size": 128, "face": 6000, "mouth": 2000}
CUDA = {"size": 512, "face": 30000, "mouth": 10000}
DEPTH = 0.6  # world units from the camera to the head centre (the head's radius is 0.09)


def _shell(count: int, radius: float, generator: torch.Generator) -> torch.Tensor:
    """count points [count, 3] on the camera-facing half of a sphere of `radius` (world units)."""
    points = torch.randn(count, 3, generator=generator)
    points = points / points.norm(dim=-1, keepdim=True)
    points[:, 2] = -points[:, 2].abs()  # the camera looks along +z: keep the near half
    return points * radius


def _stages(face_points: int, mouth_points: int, backend: str) -> tuple[object, object]:
    from talkzoo.lightning_modules.talkinggaussian_face import TalkingGaussianFace
    from talkzoo.lightning_modules.talkinggaussian_fuse import TalkingGaussianFuse
    from talkzoo.lightning_modules.talkinggaussian_mouth import TalkingGaussianMouth
    from talkzoo.zoo.talkinggaussian.motion import FaceMotionNet, MouthMotionNet

    generator = torch.Generator().manual_seed(0)
    face = TalkingGaussianFace(FaceMotionNet(audio_in=80), warm_step=0, raster_backend=backend)
    mouth = TalkingGaussianMouth(MouthMotionNet(audio_in=80, base_resolution=64, finest_resolution=57.6, hidden=32),
                                 warm_step=0, raster_backend=backend)  # fmt: skip
    sphere = torch.nn.functional.normalize(torch.randn(478, 3, generator=generator), dim=-1)
    for stage, count, radius in ((face, face_points, 0.09), (mouth, mouth_points, 0.03)):
        stage.head.fit(sphere.numpy())  # a unit sphere of canonical points → the head's radius is 0.09 world units
        stage.extent.fill_(0.05)
        points = _shell(count, radius, generator)
        points[:, 1] += 0.04 if radius < 0.09 else 0.0  # the mouth sits below the centre
        stage.branch.gaussians.initialize(points, torch.rand(count, 3, generator=generator), 0.5)
        stage.branch.gaussians.active_sh_degree.fill_(2)
    fuse = TalkingGaussianFuse(face=face.branch, mouth=mouth.branch, head=face.head, raster_backend=backend,
                               val_mouth_metrics=False)  # fmt: skip
    return face, fuse


def _batch(size: int) -> dict[str, torch.Tensor]:
    focal = size / 4 * DEPTH / 0.09  # the head's radius projects to a quarter of the frame
    pose = torch.eye(4)
    pose[2, 3] = DEPTH / 0.09  # head units: world = 0.09 · head for the unit-sphere canonical mesh
    r0, c0 = int(size * 0.6), int(size * 0.4)
    mouth = torch.zeros(1, size, size, dtype=torch.bool)
    mouth[:, r0 : r0 + size // 16, c0 : c0 + size // 5] = True
    parsing = torch.zeros(1, size, size, dtype=torch.long)
    parsing[:, size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1
    return {
        "image": torch.rand(1, 3, size, size), "torso": torch.rand(1, 4, size, size),
        "background": torch.rand(1, 3, size, size), "pose": pose[None], "parsing": parsing,
        "intrinsics": torch.tensor([[focal, focal, size / 2, size / 2]]), "blink": torch.zeros(1),
        "audio": torch.randn(1, 8, 16, 80), "mouth_mask": mouth,
        "lips_rect": torch.tensor([[r0 - 2, r0 + size // 16 + 2, c0 - 2, c0 + size // 5 + 2]]),
    }  # fmt: skip


def _measure(ctx: BenchContext, device: str, backend: str, sizes: dict[str, int]) -> dict[str, float]:
    face, fuse = _stages(sizes["face"], sizes["mouth"], backend)
    face, fuse = face.to(device), fuse.to(device)
    batch = {k: v.to(device) for k, v in _batch(sizes["size"]).items()}
    optimizer = face.configure_optimizers()["optimizer"]
    background = torch.tensor([0.0, 1.0, 0.0], device=device)
    iteration = face.hparams.warm_step + 1  # motion network on, before the LPIPS phase
    face.train()

    def train_step() -> None:
        loss, _, _, _ = face.branch_loss(batch, iteration, background)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    train_s = ctx.median_time(train_step, repeats=3 if ctx.quick else 5)
    fuse.eval()
    with torch.no_grad():
        out = fuse.render_frame(batch)
        coverage = float(out["face_alpha"].gt(0.5).float().mean())
        render_s = ctx.median_time(lambda: fuse.render_frame(batch), repeats=2 if ctx.quick else 5)
    return {"train_steps_per_s": 1.0 / train_s, "render_fps": 1.0 / render_s, "face_coverage": coverage}


@register("talkinggaussian")
def bench_talkinggaussian(ctx: BenchContext) -> dict[str, float]:
    results: dict[str, float] = {}
    size = CPU["size"]
    for name, value in _measure(ctx, "cpu", "torch", CPU).items():
        results[f"cpu_{size}_{name}"] = value
    results["cpu_gaussians_face"], results["cpu_gaussians_mouth"] = float(CPU["face"]), float(CPU["mouth"])
    if ctx.cuda:
        from talkzoo.zoo.talkinggaussian.rasterizer import gsplat_usable

        size = CUDA["size"]
        backends = ("gsplat", "torch") if gsplat_usable(torch.device("cuda")) else ("torch",)
        for backend in backends:
            for name, value in _measure(ctx, "cuda", backend, CUDA).items():
                results[f"cuda_{size}_{backend}_{name}"] = value
        results["cuda_gaussians_face"], results["cuda_gaussians_mouth"] = float(CUDA["face"]), float(CUDA["mouth"])
        results["cuda_512_target_fps"] = 108.0
    return results

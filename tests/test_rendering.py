"""zoo/rendering: rays in the head box, ray/box intersection, the occupancy-grid samplers (only occupied samples
are shaded), nerfacc compositing vs a hand computation, grid updates; CUDA-only nerfacc paths are marked `gpu`."""

from __future__ import annotations

import math

import pytest
import torch

from talkzoo.zoo.rendering import (
    GridSampler,
    RaySamples,
    TorchGridSampler,
    camera_rays,
    composite,
    ray_aabb,
    render_rays,
)
from talkzoo.zoo.rendering.rays import pixel_grid

CUDA = torch.cuda.is_available()


def _rotation(yaw: float, pitch: float) -> torch.Tensor:
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    ry = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = torch.tensor([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return ry @ rx


def test_rays_pass_through_the_projected_points() -> None:
    torch.manual_seed(0)
    pose = torch.eye(4)
    pose[:3, :3] = _rotation(0.3, -0.2)
    pose[:3, 3] = torch.tensor([3.0, -2.0, 160.0])
    intrinsics = torch.tensor([160.0, 160.0, 32.0, 32.0])
    scale = 0.04
    head = torch.randn(10, 3) * 10  # head-frame points (pixel-ish units)
    cam = head @ pose[:3, :3].T + pose[:3, 3]
    uv = torch.stack((160 * cam[:, 0] / cam[:, 2] + 32, 160 * cam[:, 1] / cam[:, 2] + 32), dim=-1)
    rays_o, rays_d = camera_rays(pose[None], intrinsics[None], uv[None], scale)
    box = head * scale
    t = ((box - rays_o[0]) * rays_d[0]).sum(-1, keepdim=True)
    torch.testing.assert_close(rays_o[0] + t * rays_d[0], box, atol=1e-4, rtol=0)
    torch.testing.assert_close(rays_d.norm(dim=-1), torch.ones(1, 10))


def test_ray_aabb_hits_and_misses() -> None:
    o = torch.tensor([[0.0, 0.0, -3.0], [0.0, 3.0, -3.0], [0.0, 0.0, 0.0]])
    d = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    t_min, t_max, hit = ray_aabb(o, d, torch.tensor([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]), near=0.05)
    assert hit.tolist() == [True, False, True]
    torch.testing.assert_close(t_min, torch.tensor([2.0, t_min[1].item(), 0.05]))
    torch.testing.assert_close(t_max[[0, 2]], torch.tensor([4.0, 1.0]))
    assert t_max[1] == t_min[1]


def _cells(x: torch.Tensor, resolution: int) -> torch.Tensor:
    return ((x + 1) / 2 * resolution).floor().long().clamp(0, resolution - 1)


def _rays(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    pose = torch.eye(4)
    pose[:3, 3] = torch.tensor([0.0, 0.0, 160.0])
    rays_o, rays_d = camera_rays(pose[None], torch.tensor([[160.0, 160.0, 4.0, 4.0]]), pixel_grid(8, 8)[None], 0.02)
    return rays_o[0][:n].contiguous(), rays_d[0][:n].contiguous()


def test_torch_sampler_marks_exactly_the_samples_in_occupied_cells() -> None:
    res = 16
    sampler = TorchGridSampler(resolution=res, n_samples=48)
    generator = torch.Generator().manual_seed(0)
    sampler.estimator.binaries = torch.rand(1, res, res, res, generator=generator) < 0.3
    rays_o, rays_d = _rays()
    samples = sampler.sample(rays_o, rays_d, stratified=True)
    assert samples.t_starts.shape == (64, 48) and samples.mask is not None
    mid = (samples.t_starts + samples.t_ends) / 2
    x = rays_o[:, None] + rays_d[:, None] * mid[..., None]
    inside = (x.abs() < 1).all(-1)
    c = _cells(x, res)
    occupied = sampler.estimator.binaries[0][c[..., 0], c[..., 1], c[..., 2]] & inside
    assert torch.equal(samples.mask, occupied)
    assert samples.mask.any() and (~samples.mask).any()

    seen: list[torch.Tensor] = []

    def field(x: torch.Tensor, d: torch.Tensor, rays: torch.Tensor) -> dict[str, torch.Tensor]:
        seen.append(x)
        n = x.shape[0]
        return {"sigma": torch.ones(n), "rgb": torch.ones(n, 3), "unc": torch.zeros(n), "amb_aud": torch.ones(n),
                "amb_eye": torch.ones(n)}  # fmt: skip

    out = render_rays(samples, rays_o, rays_d, field)
    shaded = seen[0]
    cells = _cells(shaded, res)
    assert sampler.estimator.binaries[0][cells[:, 0], cells[:, 1], cells[:, 2]].all(), "shaded an empty cell"
    assert shaded.shape[0] == int(samples.mask.sum()) == out["samples"]
    torch.testing.assert_close(out["amb_aud"], samples.mask.sum(-1).float())  # unweighted sums over shaded samples


def test_empty_grid_renders_the_background() -> None:
    sampler = TorchGridSampler(resolution=8)
    rays_o, rays_d = _rays(4)
    samples = sampler.sample(rays_o, rays_d, stratified=False)
    assert not samples.mask.any()

    def field(x: torch.Tensor, d: torch.Tensor, rays: torch.Tensor) -> dict[str, torch.Tensor]:
        assert x.shape == (0, 3), "nothing to shade"
        return {"sigma": x[:, 0], "rgb": x, "unc": x[:, 0], "amb_aud": x[:, 0], "amb_eye": x[:, 0]}

    out = render_rays(samples, rays_o, rays_d, field)
    bg = torch.rand(4, 3)
    torch.testing.assert_close(composite(out["color"], out["opacity"], bg), bg)


def test_compositing_matches_a_hand_computation() -> None:
    t = torch.tensor([[0.0, 0.5, 1.0, 2.0], [1.0, 1.1, 1.3, 1.6]])
    sigma = torch.tensor([[0.5, 2.0, 1.0], [3.0, 0.0, 4.0]])
    rgb = torch.rand(2, 3, 3, generator=torch.Generator().manual_seed(0))
    unc = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]])
    bg = torch.tensor([[0.2, 0.4, 0.6], [1.0, 0.0, 0.5]])
    rays_o, rays_d = torch.zeros(2, 3), torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    samples = RaySamples(t[:, :-1], t[:, 1:], 2, mask=torch.ones(2, 3, dtype=torch.bool))
    values = {"sigma": sigma.reshape(-1), "rgb": rgb.reshape(-1, 3), "unc": unc.reshape(-1),
              "amb_aud": torch.ones(6), "amb_eye": torch.ones(6)}  # fmt: skip
    out = render_rays(samples, rays_o, rays_d, lambda x, d, r: values)

    for ray in range(2):
        transmittance, color, opacity, depth, u = 1.0, torch.zeros(3), 0.0, 0.0, 0.0
        for i in range(3):
            delta = float(t[ray, i + 1] - t[ray, i])
            alpha = 1 - math.exp(-float(sigma[ray, i]) * delta)
            w = transmittance * alpha
            color, opacity = color + w * rgb[ray, i], opacity + w
            depth, u = depth + w * float(t[ray, i] + t[ray, i + 1]) / 2, u + w * float(unc[ray, i])
            transmittance *= 1 - alpha
        torch.testing.assert_close(out["color"][ray], color)
        torch.testing.assert_close(out["opacity"][ray], torch.tensor(opacity))
        torch.testing.assert_close(out["depth"][ray], torch.tensor(depth))
        torch.testing.assert_close(out["unc"][ray], torch.tensor(u))
        expected = (color + (1 - opacity) * bg[ray]).clamp(0, 1)
        torch.testing.assert_close(composite(out["color"], out["opacity"], bg)[ray], expected)


def test_grid_update_marks_the_dense_region() -> None:
    sampler = GridSampler(resolution=16, warmup_steps=10**9, occ_threshold=0.5)

    def density(x: torch.Tensor) -> torch.Tensor:
        return torch.where(x.norm(dim=-1) < 0.5, 100.0, 0.0)

    assert sampler.update(0, density) and not sampler.update(5, density)
    centres = (sampler.estimator.grid_coords.float() + 0.5) / 16 * 2 - 1
    occupied = sampler.estimator.binaries.reshape(-1)
    assert occupied[centres.norm(dim=-1) < 0.35].all() and not occupied[centres.norm(dim=-1) > 0.65].any()
    sampler.update_subset(lambda x: torch.zeros(x.shape[0]), 1000)  # decays a subset, keeps the rest
    assert sampler.estimator.binaries.sum() > 0
    fresh = GridSampler(resolution=16)
    fresh.update_subset(lambda x: torch.where(x.norm(dim=-1) < 0.5, 100.0, 1e-3), 1000)
    occs, binaries = fresh.estimator.occs, fresh.estimator.binaries.reshape(-1)
    assert binaries[occs == 0].all(), "cells not evaluated yet stay occupied"
    assert not binaries[(occs > 0) & (occs < 1e-2)].any()


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="nerfacc's occupancy-grid marching needs CUDA")
def test_nerfacc_and_torch_samplers_render_the_same_image() -> None:
    torch.manual_seed(0)
    sampler = GridSampler(resolution=64, step_size=2 * math.sqrt(3) / 512, max_samples=None, n_samples=512).cuda()
    sampler.update(0, lambda x: torch.where(x.norm(dim=-1) < 0.5, 20.0, 0.0))
    rays_o, rays_d = (r.cuda() for r in _rays(64))

    def field(x: torch.Tensor, d: torch.Tensor, rays: torch.Tensor) -> dict[str, torch.Tensor]:
        inside = (x.norm(dim=-1) < 0.5).float()
        n = x.shape[0]
        z = torch.zeros(n, device=x.device)
        return {"sigma": 20 * inside, "rgb": (x + 1) / 2, "unc": z, "amb_aud": z, "amb_eye": z}

    packed = render_rays(sampler.sample_nerfacc(rays_o, rays_d, False), rays_o, rays_d, field)
    batched = render_rays(sampler.sample_torch(rays_o, rays_d, False), rays_o, rays_d, field)
    torch.testing.assert_close(packed["opacity"], batched["opacity"], atol=0.05, rtol=0)
    torch.testing.assert_close(packed["color"], batched["color"], atol=0.05, rtol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="nerfacc's occupancy-grid marching needs CUDA")
def test_nerfacc_sampler_caps_samples_per_ray_and_stays_in_occupied_cells() -> None:
    sampler = GridSampler(resolution=32, max_samples=16).cuda()
    sampler.estimator.binaries[:] = True
    rays_o, rays_d = (r.cuda() for r in _rays(64))
    samples = sampler.sample_nerfacc(rays_o, rays_d, True)
    assert samples.packed and torch.bincount(samples.ray_indices, minlength=64).max() <= 16
    sampler.estimator.binaries[:, :16] = False
    samples = sampler.sample_nerfacc(rays_o, rays_d, True)
    x = rays_o[samples.ray_indices] + rays_d[samples.ray_indices] * ((samples.t_starts + samples.t_ends) / 2)[:, None]
    assert sampler.occupied(x).float().mean() > 0.95  # nerfacc tests occupancy at its own sample points

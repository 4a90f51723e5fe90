"""zoo/rendering: rays in the head box, ray/box intersection, the occupancy-grid samplers (only occupied samples
are shaded), nerfacc compositing vs a hand computation, grid updates, the automatic fallback to the torch sampler
when nerfacc's CUDA extension is unavailable, the truncated exp under fp16; CUDA-only nerfacc paths are marked `gpu`."""

from __future__ import annotations

import math
import sys
import warnings

import pytest
import torch

from talkzoo.zoo.rendering import (
    GridSampler,
    RaySamples,
    TorchGridSampler,
    activations,
    camera_rays,
    composite,
    ray_aabb,
    rays,
    render_rays,
    samplers,
    volume,
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


def _sphere_field(x: torch.Tensor, d: torch.Tensor, ray_indices: torch.Tensor) -> dict[str, torch.Tensor]:
    inside = (x.norm(dim=-1) < 0.5).float()
    z = torch.zeros(x.shape[0], device=x.device)
    return {"sigma": 20 * inside, "rgb": (x + 1) / 2, "unc": z, "amb_aud": z, "amb_eye": z}


@pytest.fixture()
def fresh_extension_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that has not probed nerfacc's extension yet (the probe result is cached per process)."""
    monkeypatch.setattr(samplers, "_NERFACC", samplers._ExtensionState())
    monkeypatch.delenv("TALKZOO_NERFACC", raising=False)


def test_auto_backend_falls_back_to_torch_on_cuda_when_the_extension_fails(
    fresh_extension_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def broken_build() -> object:
        calls.append(1)
        raise RuntimeError("Error building extension 'nerfacc_cuda'\nnvcc fatal : Unsupported gpu architecture")

    monkeypatch.setattr(samplers.torch.cuda, "is_available", lambda: True)  # a CUDA machine, as far as the probe sees
    monkeypatch.setattr(samplers, "_load_nerfacc_extension", broken_build)
    cuda = torch.device("cuda")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chosen = [samplers.marching_backend("auto", cuda) for _ in range(3)]
    assert chosen == ["torch"] * 3
    assert len(calls) == 1, "the extension is probed once per process, never rebuilt per batch"
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1, messages
    assert "Unsupported gpu architecture" in messages[0], "the warning says why"
    assert "nvcc" in messages[0] and "ninja" in messages[0], "and how to get the fast path"
    assert samplers.marching_backend("torch", cuda) == "torch"
    assert samplers.marching_backend("nerfacc", cuda) == "nerfacc"  # explicit choice: sample_nerfacc raises clearly


def test_auto_backend_without_nvcc_and_on_cpu(fresh_extension_state: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def never() -> object:
        raise AssertionError("CPU rays must not trigger nerfacc's CUDA build")

    monkeypatch.setattr(samplers, "_load_nerfacc_extension", never)
    assert samplers.marching_backend("auto", torch.device("cpu")) == "torch"
    monkeypatch.setattr(samplers.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(samplers, "_load_nerfacc_extension", lambda: None)  # nerfacc's answer when nvcc is missing
    with pytest.warns(RuntimeWarning, match="no CUDA toolkit"):
        assert samplers.marching_backend("auto", torch.device("cuda")) == "torch"
    monkeypatch.setattr(samplers, "_NERFACC", samplers._ExtensionState())
    monkeypatch.setenv("TALKZOO_NERFACC", "off")
    assert samplers.nerfacc_cuda_status() == (False, "TALKZOO_NERFACC=off")


def test_the_torch_path_has_no_per_ray_python_loop() -> None:
    """Sampling + compositing run the same Python lines for 16 rays as for 4096: all per-ray work is in tensors."""
    files = {samplers.__file__, volume.__file__, rays.__file__}

    def python_lines(n_rays: int) -> int:
        sampler = TorchGridSampler(resolution=16, n_samples=32)
        sampler.estimator.binaries = torch.rand(1, 16, 16, 16, generator=torch.Generator().manual_seed(0)) < 0.5
        generator = torch.Generator().manual_seed(n_rays)
        rays_o = torch.randn(n_rays, 3, generator=generator) * 0.2 + torch.tensor([0.0, 0.0, -3.0])
        rays_d = torch.nn.functional.normalize(-rays_o + torch.randn(n_rays, 3, generator=generator) * 0.1, dim=-1)
        count = 0

        def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
            nonlocal count
            if event == "line" and frame.f_code.co_filename in files:
                count += 1
            return tracer

        sys.settrace(tracer)
        try:
            out = render_rays(sampler.sample(rays_o, rays_d, stratified=True), rays_o, rays_d, _sphere_field)
        finally:
            sys.settrace(None)
        assert out["color"].shape == (n_rays, 3) and out["samples"] > 0
        return count

    assert python_lines(16) == python_lines(4096) > 0


def test_trunc_exp_is_finite_under_fp16_inputs() -> None:
    x = torch.tensor([-100.0, -3.0, 0.0, 11.0, 20.0, 1e4], dtype=torch.float16, requires_grad=True)
    y = activations.trunc_exp(x)
    assert y.dtype == torch.float32 and torch.isfinite(y).all()
    torch.testing.assert_close(y[:4], torch.exp(x[:4].float()), rtol=1e-6, atol=0)
    assert y[4] == y[5] == math.exp(15.0)  # truncated above 15, in fp32
    (y * 1e-3).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()  # exp(15)·1e-3 fits fp16; larger products overflow
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = torch.nn.Linear(4, 1)(torch.full((3, 4), 10.0))[:, 0]
        assert torch.isfinite(activations.trunc_exp(h * 100)).all()


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

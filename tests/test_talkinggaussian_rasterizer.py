"""The Gaussian rasteriser: the torch path against hand-computed EWA splatting and compositing, its gradients, its
cut-offs, the backend choice, and (with CUDA and gsplat) the two paths against each other."""

from __future__ import annotations

import math

import pytest
import torch

from talkzoo.zoo.talkinggaussian.camera import Camera
from talkzoo.zoo.talkinggaussian.raster_torch import rasterize_torch
from talkzoo.zoo.talkinggaussian.raster_types import RasterSettings
from talkzoo.zoo.talkinggaussian.rasterizer import rasterize

IDENTITY = torch.tensor([1.0, 0.0, 0.0, 0.0])


def _camera(size: int = 9, focal: float = 10.0, dtype: torch.dtype = torch.float32) -> Camera:
    """Identity view; the principal point at the centre of pixel (size // 2) (continuous coordinate size/2)."""
    c = size / 2
    return Camera(torch.eye(4, dtype=dtype), torch.tensor([focal, focal, c, c], dtype=dtype), size, size)


def _two_gaussians() -> dict[str, torch.Tensor]:
    """A: red, isotropic σ 0.1 at depth 1 on the optical axis; B: green, σ 0.2, depth 2, 0.1 to the right."""
    return {
        "means": torch.tensor([[0.0, 0.0, 1.0], [0.1, 0.0, 2.0]]),
        "scales": torch.tensor([[0.1, 0.1, 0.1], [0.2, 0.2, 0.2]]),
        "quats": IDENTITY.repeat(2, 1),
        "opacities": torch.tensor([0.8, 0.6]),
        "colors": torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
    }


def _hand_alpha(opacity: float, dx: float, dy: float, cov: tuple[float, float, float]) -> float:
    """o·exp(−½ dᵀΣ⁻¹d) for Σ = [[a, b], [b, c]]."""
    a, b, c = cov
    det = a * c - b * b
    power = -0.5 * (c * dx * dx - 2 * b * dx * dy + a * dy * dy) / det
    return opacity * math.exp(power)


def test_two_overlapping_gaussians_match_a_hand_computation() -> None:
    # Σ₂ by hand (fx = 10): A at z 1: J = diag(10, 10) → 100·0.01 + 0.3 = 1.3 on the diagonal.
    # B at z 2, x 0.1: J = [[5, 0, −10·0.1/4], [0, 5, 0]] → Σ₂ = 0.04·[[25 + 0.0625, 0], [0, 25]] + 0.3·I.
    cov_a = (1.3, 0.0, 1.3)
    cov_b = (0.04 * 25.0625 + 0.3, 0.0, 0.04 * 25 + 0.3)
    # projected centres (continuous px; pixel (r, c) is sampled at (c + 0.5, r + 0.5)): A (4.5, 4.5), B (5.0, 4.5)
    bg = torch.tensor([0.0, 0.0, 1.0])
    out = rasterize_torch(**_two_gaussians(), camera=_camera(), background=bg)
    assert out.image.shape == (3, 9, 9) and out.alpha.shape == (1, 9, 9) and out.depth.shape == (1, 9, 9)
    assert out.means2d[:, 0].tolist() == pytest.approx([4.5, 5.0])
    for row, col in ((4, 4), (4, 6), (2, 5)):
        px, py = col + 0.5, row + 0.5
        a_a = _hand_alpha(0.8, px - 4.5, py - 4.5, cov_a)
        a_b = _hand_alpha(0.6, px - 5.0, py - 4.5, cov_b)
        t_b = 1 - a_a  # A is in front
        expected = torch.tensor([a_a, a_b * t_b, (1 - a_a) * (1 - a_b)])
        torch.testing.assert_close(out.image[:, row, col], expected, atol=1e-5, rtol=1e-5)
        assert float(out.alpha[0, row, col]) == pytest.approx(a_a + a_b * t_b, abs=1e-5)
        assert float(out.depth[0, row, col]) == pytest.approx(a_a * 1.0 + a_b * t_b * 2.0, abs=1e-5)
    # radius = ceil(3·√λ_max): A ceil(3·√1.3) = 4; B ceil(3·√1.3025) = 4
    assert out.radii.tolist() == [4, 4]


def test_depth_order_not_input_order_decides_occlusion() -> None:
    scene = _two_gaussians()
    flipped = {k: v.flip(0) for k, v in scene.items()}
    a = rasterize_torch(**scene, camera=_camera())
    b = rasterize_torch(**flipped, camera=_camera())
    torch.testing.assert_close(a.image, b.image)
    # moving B in front of A (depth 0.5) changes the centre pixel to mostly green
    scene["means"] = torch.tensor([[0.0, 0.0, 1.0], [0.025, 0.0, 0.5]])
    c = rasterize_torch(**scene, camera=_camera())
    assert float(c.image[1, 4, 4]) > float(c.image[0, 4, 4])


def test_transmittance_cutoff_and_alpha_cap() -> None:
    # four co-located Gaussians of α 0.95 at the centre pixel: T goes 1 → 0.05 → 0.0025 → 1.25e-4; the fourth
    # (white) would push T to 6.25e-6 < 1e-4, so the walk stops before it, as 3DGS's
    n = 4
    out = rasterize_torch(
        means=torch.tensor([[0.0, 0.0, 1.0 + 0.1 * i] for i in range(n)]),
        scales=torch.full((n, 3), 0.3),
        quats=IDENTITY.repeat(n, 1),
        opacities=torch.full((n,), 0.95),
        colors=torch.cat((torch.eye(3), torch.ones(1, 3))),
        camera=_camera(),
    )
    torch.testing.assert_close(out.image[:, 4, 4], torch.tensor([0.95, 0.05 * 0.95, 0.0025 * 0.95]))
    assert float(out.alpha[0, 4, 4]) == pytest.approx(1 - 0.05**3, abs=1e-6)
    # an opacity-1 Gaussian is capped at α 0.99
    single = rasterize_torch(
        torch.tensor([[0.0, 0.0, 1.0]]), torch.full((1, 3), 0.3), IDENTITY[None], torch.ones(1),
        torch.ones(1, 3), _camera(),
    )  # fmt: skip
    assert float(single.alpha[0, 4, 4]) == pytest.approx(0.99, abs=1e-6)


def test_culling_behind_the_near_plane_and_outside_the_image() -> None:
    out = rasterize_torch(
        means=torch.tensor([[0.0, 0.0, 0.1], [5.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
        scales=torch.full((3, 3), 0.05),
        quats=IDENTITY.repeat(3, 1),
        opacities=torch.full((3,), 0.5),
        colors=torch.ones(3, 3),
        camera=_camera(),
        settings=RasterSettings(near=0.2),
    )
    assert out.radii.tolist()[:2] == [0, 0] and out.radii[2] > 0


def test_gradients_match_finite_differences() -> None:
    torch.manual_seed(0)
    n = 4
    dtype = torch.float64
    params = (
        (torch.randn(n, 3, dtype=dtype) * 0.15 + torch.tensor([0.0, 0.0, 1.0], dtype=dtype)).requires_grad_(),
        (torch.rand(n, 3, dtype=dtype) * 0.1 + 0.1).requires_grad_(),
        torch.randn(n, 4, dtype=dtype).requires_grad_(),
        (torch.rand(n, dtype=dtype) * 0.5 + 0.3).requires_grad_(),
        torch.rand(n, 3, dtype=dtype).requires_grad_(),
    )
    camera = _camera(6, 6.0, dtype)
    bg = torch.tensor([0.2, 0.3, 0.4], dtype=dtype)

    def render(means, scales, quats, opacities, colors):  # noqa: ANN001, ANN202
        out = rasterize_torch(means, scales, quats, opacities, colors, camera, bg)
        return out.image, out.alpha, out.depth

    assert torch.autograd.gradcheck(render, params, eps=1e-6, atol=1e-5)


def test_screen_space_means_receive_the_densification_gradient() -> None:
    scene = {k: v.clone().requires_grad_(k == "means") for k, v in _two_gaussians().items()}
    out = rasterize_torch(**scene, camera=_camera())
    out.image[0].sum().backward()
    assert out.means2d.grad is not None and out.means2d.grad.shape == (2, 2)
    assert out.means2d.grad.abs().sum() > 0


def test_features_are_splatted_without_geometry_gradients() -> None:
    scene = {k: v.clone().requires_grad_() for k, v in _two_gaussians().items()}
    features = torch.tensor([[1.0], [2.0]], requires_grad=True)
    out = rasterize_torch(**scene, camera=_camera(), features=features)
    assert out.features is not None and out.features.shape == (1, 9, 9)
    out.features.sum().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0
    assert all(scene[k].grad is None for k in ("means", "scales", "quats", "opacities"))


def test_backend_choice_on_cpu() -> None:
    scene = _two_gaussians()
    auto = rasterize(**scene, camera=_camera(), backend="auto")
    torch.testing.assert_close(auto.image, rasterize_torch(**scene, camera=_camera()).image)
    with pytest.raises(RuntimeError, match="gsplat"):
        rasterize(**scene, camera=_camera(), backend="gsplat")
    with pytest.raises(ValueError, match="backend"):
        rasterize(**scene, camera=_camera(), backend="cuda")


def test_gsplat_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """TALKZOO_GSPLAT=off: gsplat is never imported or built, even for CUDA tensors (the GPU kit's checks run so while
    gsplat builds in another process); on CPU the status says why gsplat cannot be used."""
    from talkzoo.zoo.talkinggaussian import rasterizer

    monkeypatch.setattr(rasterizer, "_GSPLAT", {})
    monkeypatch.setenv("TALKZOO_GSPLAT", "off")
    assert rasterizer.gsplat_status(torch.device("cuda")) == (False, "TALKZOO_GSPLAT=off")
    assert "ok" not in rasterizer._GSPLAT  # the probe (import + build) never ran
    assert rasterizer.gsplat_status(torch.device("cpu")) == (False, "tensors are on cpu, gsplat needs CUDA")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gsplat_and_torch_paths_give_the_same_image() -> None:
    pytest.importorskip("gsplat", reason="gsplat is the optional CUDA extra (pip install gsplat==1.5.3)")
    from talkzoo.zoo.talkinggaussian.raster_gsplat import rasterize_gsplat

    torch.manual_seed(0)
    n, size = 300, 64
    device = torch.device("cuda")
    means = torch.randn(n, 3, device=device) * torch.tensor([0.08, 0.08, 0.03], device=device)
    means[:, 2] += 0.8
    scales = torch.rand(n, 3, device=device) * 0.01 + 0.002
    quats = torch.randn(n, 4, device=device)
    # opacities below 0.35: the far tails the two footprint rules treat differently stay under α_min = 1/255,
    # and below 0.99 neither α cap (gsplat 0.999, 3DGS 0.99) applies
    opacities = torch.rand(n, device=device) * 0.3 + 0.02
    colors = torch.rand(n, 3, device=device)
    camera = Camera(torch.eye(4, device=device), torch.tensor([160.0, 160.0, 32.0, 32.0], device=device), size, size)
    bg = torch.tensor([0.0, 1.0, 0.0], device=device)
    ours = rasterize_torch(means, scales, quats, opacities, colors, camera, bg)
    theirs = rasterize_gsplat(means, scales, quats, opacities, colors, camera, bg)
    torch.testing.assert_close(theirs.image, ours.image, atol=2e-3, rtol=0)
    torch.testing.assert_close(theirs.alpha, ours.alpha, atol=2e-3, rtol=0)
    torch.testing.assert_close(theirs.depth, ours.depth, atol=2e-3, rtol=0)
    torch.testing.assert_close(theirs.means2d, ours.means2d, atol=1e-3, rtol=0)


def test_gradients_are_bit_identical_across_runs_with_two_threads() -> None:
    """Training reproducibility: many Gaussians overlap the same pixels, so every gather has repeated indices; with
    2 CPU threads the gradients of two identical backward passes must be equal to the bit (advanced indexing's
    backward, index_put with accumulate, was not: TalkingGaussian's face stage drifted within 100 steps)."""
    generator = torch.Generator().manual_seed(0)
    n = 3000
    scene = {
        "means": torch.cat(
            [torch.rand(n, 2, generator=generator) * 0.6 - 0.3, 1 + torch.rand(n, 1, generator=generator)], 1
        ),
        "scales": torch.full((n, 3), 0.04),
        "quats": IDENTITY.repeat(n, 1),
        "opacities": torch.full((n,), 0.3),
        "colors": torch.rand(n, 3, generator=generator),
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        grads = []
        for _ in range(3):
            leaves = {k: v.clone().requires_grad_(k != "quats") for k, v in scene.items()}
            out = rasterize_torch(**leaves, camera=_camera(48, 60.0))
            (out.image * torch.linspace(0, 1, 48)).sum().backward()
            grads.append([leaves[k].grad for k in ("means", "scales", "opacities", "colors")])
    finally:
        torch.set_num_threads(threads)
    for other in grads[1:]:
        assert all(torch.equal(a, b) for a, b in zip(grads[0], other, strict=True))

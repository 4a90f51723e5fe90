"""TalkingGaussian's networks and Gaussian bookkeeping: the shared tri-plane encoder, the motion fields, SH colours,
densification with optimizer surgery, checkpoint resizing, compositing and the SSIM loss."""

from __future__ import annotations

import math

import pytest
import torch

from talkzoo.zoo.talkinggaussian.camera import HeadSpace
from talkzoo.zoo.talkinggaussian.composite import composite_layers
from talkzoo.zoo.talkinggaussian.densify import DensifyConfig, DensifyStats, densify_and_prune, prune, suppress
from talkzoo.zoo.talkinggaussian.gaussians import SH_C0, GaussianSet
from talkzoo.zoo.talkinggaussian.losses import patchify, ssim
from talkzoo.zoo.talkinggaussian.motion import FaceMotionNet, MouthMotionNet


def test_one_tri_plane_encoder_for_ernerf_and_talkinggaussian() -> None:
    from talkzoo.zoo import encoders, ernerf
    from talkzoo.zoo.talkinggaussian import motion

    assert ernerf.TriPlaneEncoder is encoders.TriPlaneEncoder
    assert motion.TriPlaneEncoder is encoders.TriPlaneEncoder


def test_motion_field_sizes_match_the_released_code() -> None:
    face, mouth = FaceMotionNet(), MouthMotionNet()
    # face planes: 12 dense levels 16 → 38.4 (bound 0.15); mouth: 12 levels 64 → 57.6 (shrinking)
    assert sum(p.numel() for p in face.encoder.parameters()) == 28392
    assert sum(p.numel() for p in mouth.encoder.parameters()) == 139800
    assert all(bool(d) for d in face.encoder.xy.dense) and all(bool(d) for d in mouth.encoder.xy.dense)
    assert face.sigma_net.linears[0].in_features == 36 + 32 + 6 and face.sigma_net.linears[-1].out_features == 11
    assert mouth.sigma_net.linears[0].in_features == 36 + 32 and mouth.sigma_net.linears[-1].out_features == 3
    assert all(layer.bias is None for layer in face.sigma_net.linears)


def test_motion_outputs_and_mouth_damping() -> None:
    torch.manual_seed(0)
    xyz = torch.rand(50, 3) * 0.2 - 0.1
    audio = torch.randn(1, 8, 16, 80)
    face = FaceMotionNet()
    out = face(xyz, face.encode_audio(audio), torch.tensor([0, 0, 0, 0, 0, 2.0]))
    assert out["d_xyz"].shape == (50, 3) and out["d_rot"].shape == (50, 4) and out["d_scale"].shape == (50, 3)
    assert out["ambient_aud"].shape == (50,) and (out["ambient_eye"] >= 0).all()
    mouth = MouthMotionNet()
    with torch.no_grad():
        for layer in mouth.sigma_net.linears:
            layer.weight.fill_(0.01)
    d = mouth(xyz, mouth.encode_audio(audio))["d_xyz"]
    torch.testing.assert_close(d[:, 0], d[:, 1] * 0.2)  # x and z damped ×0.2 against the vertical y
    torch.testing.assert_close(d[:, 2], d[:, 1] * 0.2)


def test_gaussian_activations_and_sh_colours() -> None:
    g = GaussianSet(sh_degree=2)
    points = torch.tensor([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 0.1]])
    colors = torch.tensor([[0.2, 0.4, 0.6]] * 4)
    g.initialize(points, colors, opacity=0.1)
    assert g.num_points == 4 and g.features_rest.shape == (4, 8, 3)
    torch.testing.assert_close(g.activated_opacity(), torch.full((4,), 0.1))
    # softplus scales equal the mean nearest-neighbour distance (√(mean of the 3 smallest d²))
    d = torch.tensor([0.1] + [math.sqrt((0.01 + 0.02 + 0.02) / 3)] * 3)
    torch.testing.assert_close(g.activated_scaling()[:, 0], d)
    # degree 0: the colour is the DC term, whatever the view
    torch.testing.assert_close(g.colors(g.xyz, torch.tensor([0.0, 0.0, -1.0])), colors)
    torch.testing.assert_close(g.features_dc[0, 0] * SH_C0 + 0.5, colors[0])
    g.one_up_sh_degree()
    g.one_up_sh_degree()
    g.one_up_sh_degree()
    assert int(g.active_sh_degree) == 2


def _set_and_optimizer(n: int = 6) -> tuple[GaussianSet, torch.optim.Optimizer]:
    torch.manual_seed(0)
    g = GaussianSet()
    g.initialize(torch.rand(n, 3) * 0.1, torch.rand(n, 3))
    names = ("xyz", "features_dc", "features_rest", "opacity", "scaling", "rotation")
    opt = torch.optim.Adam([{"params": [g.parameter(name)]} for name in names])
    sum(p.sum() for p in g.parameters()).backward()
    opt.step()
    return g, opt


def _state_matches(g: GaussianSet, opt: torch.optim.Optimizer) -> None:
    for group in opt.param_groups:
        (p,) = group["params"]
        assert any(p is q for q in g.parameters())
        assert opt.state[p]["exp_avg"].shape == p.shape


def test_densify_clones_small_splits_large_and_prunes_transparent() -> None:
    g, opt = _set_and_optimizer()
    with torch.no_grad():
        g.scaling[:3] = -8.0  # tiny: clone candidates
        g.scaling[3:] = 0.0  # softplus(0) = 0.69: split candidates
        g.opacity[5] = -10.0  # nearly transparent: pruned
    stats = DensifyStats.zeros(6, "cpu")
    grads = torch.tensor([[1.0, 0.0]] * 6)
    grads[1] = 0.0  # below the threshold
    stats.add(grads, torch.ones(6, dtype=torch.long), 2, 2)
    counts = densify_and_prune(g, opt, stats, DensifyConfig(grad_threshold=0.5), 0.05, 1.0, torch.Generator())
    # clones: 0, 2 (1 has no gradient); splits: 3, 4, 5 → 6 children; parents removed; transparent ones pruned
    assert counts["cloned"] == 2 and counts["split"] == 3
    assert g.num_points == counts["points"]
    assert g.num_points == 6 + 2 + 6 - 3 - 2  # the two children of the transparent parent 5 go too
    assert counts["pruned"] == 5
    _state_matches(g, opt)
    sum(p.sum() for p in g.parameters()).backward()
    opt.step()  # the optimizer still works on the new tensors


def test_max_points_caps_growth_by_gradient() -> None:
    g, opt = _set_and_optimizer()
    with torch.no_grad():
        g.scaling[:] = -8.0
    stats = DensifyStats.zeros(6, "cpu")
    stats.add(torch.arange(6.0)[:, None].repeat(1, 2), torch.ones(6, dtype=torch.long), 2, 2)
    config = DensifyConfig(grad_threshold=0.1, max_points=8)
    densify_and_prune(g, opt, stats, config, 0.0, 1.0, torch.Generator())
    assert g.num_points == 8


def test_prune_and_suppress() -> None:
    g, opt = _set_and_optimizer()
    prune(g, opt, torch.tensor([True, False, False, True, False, False]))
    assert g.num_points == 4
    _state_matches(g, opt)
    stats = DensifyStats.zeros(4, "cpu")
    stats.grad_sum += 1.0
    before = g.activated_scaling().clone()
    mask = torch.tensor([True, False, False, False])
    suppress(g, mask, stats)
    torch.testing.assert_close(g.activated_scaling()[0], before[0] / 10)  # shrinks (the original's bug grew them)
    assert float(g.activated_opacity()[0].detach()) == pytest.approx(0.1, abs=1e-6) and stats.grad_sum.tolist()[:2] == [
        0.5,
        1,
    ]


def test_checkpoint_loading_takes_the_saved_number_of_gaussians() -> None:
    g, _ = _set_and_optimizer(7)
    g.one_up_sh_degree()
    fresh = GaussianSet()
    fresh.load_state_dict(g.state_dict())
    assert fresh.num_points == 7 and int(fresh.active_sh_degree) == 1
    torch.testing.assert_close(fresh.xyz, g.xyz)


def test_head_space_normalises_the_mesh_and_keeps_the_image() -> None:
    mesh = torch.randn(478, 3).numpy() * 20 + 5
    head = HeadSpace(mesh_radius=0.09)
    head.fit(mesh)
    world = head.to_world(torch.from_numpy(mesh).float())
    assert float(world.norm(dim=-1).max()) == pytest.approx(0.09, rel=1e-4)
    pose = torch.eye(4)
    pose[:3, 3] = torch.tensor([1.0, -2.0, 300.0])
    x_head = torch.from_numpy(mesh[:5]).float()
    projected_head = (x_head + pose[:3, 3]) / (x_head + pose[:3, 3])[:, 2:]
    view = head.viewmat(pose)
    x_cam = world[:5] @ view[:3, :3].T + view[:3, 3]
    torch.testing.assert_close(x_cam / x_cam[:, 2:], projected_head, atol=1e-5, rtol=1e-5)


def test_composite_with_an_empty_mouth_is_face_over_backdrop() -> None:
    torch.manual_seed(0)
    green = torch.tensor([0.0, 1.0, 0.0])
    face_p, face_a = torch.rand(3, 4, 4) * 0.5, torch.rand(1, 4, 4) * 0.5
    face = face_p + green.view(3, 1, 1) * (1 - face_a)
    mouth = green.view(3, 1, 1).expand(3, 4, 4)  # nothing rendered: background only
    backdrop = torch.rand(3, 4, 4)
    out = composite_layers(face, face_a, mouth, torch.zeros(1, 4, 4), backdrop, green)
    torch.testing.assert_close(out, face_p + backdrop * (1 - face_a))


def test_ssim_and_patches() -> None:
    x = torch.rand(3, 20, 20)
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-6)
    assert float(ssim(x, torch.rand(3, 20, 20))) < 0.5
    assert patchify(torch.rand(3, 70, 64), 32).shape == (4, 3, 32, 32)
    assert patchify(torch.rand(3, 20, 20), 32).shape == (1, 3, 20, 20)

"""ER-NeRF networks (zoo/ernerf): hash-grid interpolation exact at vertices and gradient-checked, SH encoding,
audio pathway shapes, head field outputs, the parameter count of ER-NeRF's head (docs/ernerf.md, "Parity"),
NaN-safe density."""

from __future__ import annotations

import math

import pytest
import torch

from talkzoo.zoo.encoders.triplane import CORNERS
from talkzoo.zoo.ernerf import AudioAttNet, AudioNet, HashGrid2D, HeadField, SHEncoder, TriPlaneEncoder
from talkzoo.zoo.rendering import trunc_exp


def _vertex_point(grid: HashGrid2D, level: int, i: int, j: int) -> torch.Tensor:
    """The point in [-1, 1]² that lands exactly on integer vertex (i, j) of `level` (pos = u·scale + 0.5)."""
    scale = float(grid.scales[level])
    u = torch.tensor([(i - 0.5) / scale, (j - 0.5) / scale], dtype=torch.float64)
    return (u * 2 - 1)[None]


def test_level_table_matches_the_reference() -> None:
    grid = HashGrid2D()
    assert grid.sizes.tolist() == [4232, 6248, 9032, 13000] + [16384] * 8
    assert grid.dense.tolist() == [True] * 4 + [False] * 8
    assert grid.embeddings.shape == (163584, 1)
    assert sum(p.numel() for p in TriPlaneEncoder().parameters()) == 490752


@pytest.mark.parametrize("log2_hashmap_size", [2, 14, 17])  # a table below 8 rows, ER-NeRF's, TalkingGaussian's
def test_vertex_rows_follow_torch_ngp_formula(log2_hashmap_size: int) -> None:
    """Row of vertex (x, y) at each level: x + y·side when the level is dense, else (x XOR y·2654435761) mod size,
    computed here in Python integers (the grid computes it with a bit mask); the forward pass's four corner rows
    (dense and hashed levels computed apart) are those rows."""
    grid = HashGrid2D(log2_hashmap_size=log2_hashmap_size)
    generator = torch.Generator().manual_seed(0)
    for level in range(grid.levels):
        side, size, dense = int(grid.sides[level]), int(grid.sizes[level]), bool(grid.dense[level])
        x, y = torch.randint(0, side, (2, 200), generator=generator)
        rows = grid.vertex_index(level, x, y) - int(grid.offsets[level])
        pairs = zip(x.tolist(), y.tolist(), strict=True)
        expected = [xi + yi * side if dense else (xi ^ (yi * 2654435761)) % size for xi, yi in pairs]
        assert rows.tolist() == expected, level
    coarsest = int(grid.sides[0])  # lower-left vertices [M, L] whose corners lie inside every level
    x, y = torch.randint(0, coarsest - 1, (2, 50, 1), generator=generator).expand(2, 50, grid.levels)
    for (dx, dy), rows in zip(CORNERS, grid._corner_rows(x, y), strict=True):  # what forward gathers
        for level in range(grid.levels):
            assert torch.equal(rows[:, level], grid.vertex_index(level, x[:, level] + dx, y[:, level] + dy))


@pytest.mark.parametrize("level", [0, 3, 4, 11])  # dense and hashed levels
def test_hash_grid_is_exact_at_vertices(level: int) -> None:
    torch.manual_seed(0)
    grid = HashGrid2D().double()
    with torch.no_grad():
        grid.embeddings.normal_()
    side = int(grid.sides[level])
    for i, j in [(1, 1), (5, 7), (side // 2, side - 3), (side - 3, 3)]:
        out = grid(_vertex_point(grid, level, i, j))
        expected = grid.embeddings[grid.vertex_index(level, torch.tensor(i), torch.tensor(j))]
        torch.testing.assert_close(out[0, level], expected[0], atol=1e-9, rtol=0)


def test_hash_grid_interpolates_bilinearly_and_zeroes_outside() -> None:
    torch.manual_seed(0)
    grid = HashGrid2D(levels=1, base_resolution=8, finest_resolution=8).double()
    with torch.no_grad():
        grid.embeddings.normal_()
    corners = [grid(_vertex_point(grid, 0, i, j))[0, 0] for i, j in ((2, 3), (3, 3), (2, 4), (3, 4))]
    scale = float(grid.scales[0])
    fx, fy = 0.25, 0.75
    u = torch.tensor([[(2 + fx - 0.5) / scale, (3 + fy - 0.5) / scale]], dtype=torch.float64)
    expected = (1 - fx) * (1 - fy) * corners[0] + fx * (1 - fy) * corners[1] + (1 - fx) * fy * corners[2]
    expected = expected + fx * fy * corners[3]
    torch.testing.assert_close(grid(u * 2 - 1)[0, 0], expected)
    assert grid(torch.tensor([[1.5, 0.0]], dtype=torch.float64)).abs().max() == 0


def test_hash_grid_gradcheck() -> None:
    torch.manual_seed(0)
    grid = HashGrid2D(levels=3, base_resolution=4, finest_resolution=16, log2_hashmap_size=6).double()
    assert not bool(grid.dense.all()), "the small grid must exercise hashed levels too"
    points = (torch.rand(16, 2, dtype=torch.float64) * 1.8 - 0.9).requires_grad_()

    def f(embeddings: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(grid, {"embeddings": embeddings}, (x,))

    embeddings = grid.embeddings.detach().clone().normal_().requires_grad_()
    assert torch.autograd.gradcheck(f, (embeddings, points), eps=1e-6, atol=1e-5)


def test_triplane_concatenates_xy_yz_xz() -> None:
    enc = TriPlaneEncoder(levels=2, base_resolution=4, finest_resolution=8)
    x = torch.rand(5, 3) * 2 - 1
    out = enc(x)
    assert out.shape == (5, 6)
    torch.testing.assert_close(out[:, 2:4], enc.yz(x[:, 1:]))
    torch.testing.assert_close(out[:, 4:], enc.xz(x[:, [0, 2]]))


def test_sh_degree_4_is_orthonormal_on_the_sphere() -> None:
    torch.manual_seed(0)
    d = torch.randn(200000, 3, dtype=torch.float64)
    d = d / d.norm(dim=-1, keepdim=True)
    y = SHEncoder(4)(d)
    gram = 4 * math.pi * y.T @ y / d.shape[0]  # Monte-Carlo ∫ Y_i Y_j dω
    torch.testing.assert_close(gram, torch.eye(16, dtype=torch.float64), atol=0.03, rtol=0)


def test_audio_pathway_shapes() -> None:
    net = AudioNet(29, 32, 16)
    assert net(torch.randn(8, 29, 16)).shape == (8, 32)
    assert AudioNet(1024, 32, 16)(torch.randn(8, 1024, 2)).shape == (8, 32)  # HuBERT's 2-step windows
    att = AudioAttNet(32, 8)
    assert att(torch.randn(3, 8, 32)).shape == (3, 32)


@pytest.mark.parametrize(("audio_in", "count"), [(29, 587989), (44, 589429), (1024, 683509)])
def test_parameter_count_matches_the_reference(audio_in: int, count: int) -> None:
    assert sum(p.numel() for p in HeadField(audio_in=audio_in).parameters()) == count


def test_head_field_outputs() -> None:
    torch.manual_seed(0)
    field = HeadField(audio_in=80, levels=4, base_resolution=8, finest_resolution=32, ind_num=16)
    audio = field.encode_audio(torch.randn(2, 8, 16, 80))
    assert audio.shape == (2, 32)
    x, d = torch.rand(7, 3) * 2 - 1, torch.nn.functional.normalize(torch.randn(7, 3), dim=-1)
    out = field(x, d, audio[:1], torch.ones(1, 1), field.code(torch.tensor([3])))
    assert out["sigma"].shape == (7,) and out["rgb"].shape == (7, 3) and out["unc"].shape == (7,)
    assert (out["sigma"] > 0).all() and (out["rgb"] > -0.0011).all() and (out["rgb"] < 1.0011).all()
    assert out["amb_aud"].shape == (7,) and ((out["amb_eye"] > 0) & (out["amb_eye"] < 1)).all()
    out["rgb"].sum().backward()
    assert field.encoder.xy.embeddings.grad is not None and field.audio_net.head[0].weight.grad is not None
    assert field(x, d, audio[:1], torch.ones(1, 1), field.code(None), uncertainty=False)["unc"].abs().max() == 0


def test_trunc_exp_is_finite_in_half_precision() -> None:
    y = trunc_exp(torch.tensor([-100.0, 0.0, 20.0, 6e4], dtype=torch.float16))
    assert y.dtype == torch.float32 and torch.isfinite(y).all()  # fp16 exp(20) would be inf
    x = torch.tensor([-100.0, 0.0, 20.0, 1e30], requires_grad=True)
    trunc_exp(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    torch.testing.assert_close(trunc_exp(torch.tensor([1.0])), torch.tensor([math.e]))


def test_hash_grid_gradients_are_bit_identical_across_runs_with_two_threads() -> None:
    """Training reproducibility: ER-NeRF's head run drifted between identical runs with 2 CPU threads (advanced
    indexing's backward, index_put with accumulate, adds repeated rows in a thread-dependent order); the grid's
    gather is index_select, whose backward is deterministic."""
    grid = HashGrid2D()
    points = torch.rand(50_000, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    weights = torch.randn(50_000, grid.output_dim, generator=torch.Generator().manual_seed(1))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        grads = []
        for _ in range(4):
            grid.zero_grad(set_to_none=True)
            (grid(points) * weights).sum().backward()
            grads.append(grid.embeddings.grad.clone())
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(grads[0], g) for g in grads[1:])


def test_hash_grid_takes_no_points() -> None:
    """A ray batch whose samples all fall outside the occupancy grid hands the encoder zero points: [0, L·F] out,
    and the backward still runs (the demo's ER-NeRF head stage met it)."""
    grid = HashGrid2D(levels=8, features=2)
    points = torch.zeros(0, 2, requires_grad=True)
    out = grid(points)
    assert out.shape == (0, grid.output_dim)
    out.sum().backward()
    assert grid.embeddings.grad is not None and not grid.embeddings.grad.any()

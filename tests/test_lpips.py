"""LPIPS in plain torch: architecture, weight loading from the torch.hub cache, clear errors, and (where the `lpips`
package and real weights exist) agreement with the reference implementation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from talkzoo.zoo.losses.lpips import LPIPS, AlexFeatures, LPIPSWeightsUnavailable, backbone_cache_path


def test_alexnet_feature_shapes() -> None:
    features = AlexFeatures()(torch.zeros(2, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in features] == [(64, 15, 15), (192, 7, 7), (384, 3, 3), (256, 3, 3), (256, 3, 3)]


def test_missing_backbone_names_the_cache_file(hub_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(LPIPSWeightsUnavailable) as error:
        LPIPS()
    message = str(error.value)
    assert str(backbone_cache_path()) in message and "\n" not in message
    printed = capfd.readouterr()
    assert "Downloading" not in printed.out + printed.err  # torch.hub's announcement of a download that cannot happen


def test_loads_backbone_from_the_hub_cache(fake_alexnet: Path) -> None:
    lpips = LPIPS()
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 64, 64, generator=generator)
    assert torch.allclose(lpips(x, x), torch.zeros(3), atol=1e-7)

    small = (x + 0.05 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    large = (x + 0.30 * torch.randn(x.shape, generator=generator)).clamp(0, 1)
    d_small, d_large = lpips(x, small), lpips(x, large)
    assert (d_small > 0).all() and (d_large > d_small).all()
    assert torch.allclose(lpips(small, x), d_small, atol=1e-6)  # symmetric

    # Differentiable in the images, frozen in its weights: usable as a loss.
    y = small.clone().requires_grad_(True)
    lpips(x, y).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in lpips.parameters())
    assert not lpips.train().training


def test_matches_the_lpips_package() -> None:
    lpips_package = pytest.importorskip("lpips", reason="the `lpips` package is not importable here (CPU torch)")
    if not backbone_cache_path().is_file():
        pytest.skip(f"no AlexNet ImageNet weights at {backbone_cache_path()}")
    reference = lpips_package.LPIPS(net="alex", verbose=False).eval()
    ours = LPIPS()
    generator = torch.Generator().manual_seed(2)
    x, y = torch.rand(4, 3, 96, 96, generator=generator), torch.rand(4, 3, 96, 96, generator=generator)
    expected = reference(x * 2 - 1, y * 2 - 1).flatten()
    assert torch.allclose(ours(x, y), expected, rtol=1e-4, atol=1e-6)

"""NIQE (zoo.metrics.niqe): natural images score lower than degraded copies; deterministic; the MATLAB resize."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from talkzoo.zoo.metrics.niqe import matlab_half, niqe, niqe_features, pristine_model


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


def test_pristine_model_is_shipped() -> None:
    mu, cov = pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36)
    assert np.allclose(cov, cov.T) and np.linalg.eigvalsh(cov).min() > 0


def test_sharp_image_beats_blurred_and_noisy_copies(astronaut: np.ndarray) -> None:
    sharp = niqe(astronaut)
    blurred = niqe(cv2.GaussianBlur(astronaut, (0, 0), 3))
    noise = np.random.default_rng(0).normal(0, 25, astronaut.shape)
    noisy = niqe(np.clip(astronaut + noise, 0, 255).astype(np.uint8))
    assert sharp < 4.0  # 3.067 (basicsr's MATLAB-faithful port gives 3.067 too; docs/evaluation.md)
    assert blurred > sharp + 3 and noisy > sharp + 3


def test_deterministic_and_shapes(astronaut: np.ndarray) -> None:
    assert niqe(astronaut) == niqe(astronaut.copy())
    features = niqe_features(astronaut[:200, :300])  # 2×3 patches of 96², the remainder cropped
    assert features.shape == (6, 36) and np.isfinite(features).all()
    assert np.isfinite(niqe(astronaut[:100, :100]))  # one patch: the sample covariance is zero, as in MATLAB


def test_too_small_image_raises(astronaut: np.ndarray) -> None:
    with pytest.raises(ValueError, match="at least 96x96"):
        niqe(astronaut[:64, :64])


def test_matlab_half_resize_keeps_constants_and_averages() -> None:
    flat = np.full((10, 7), 42.0)
    assert matlab_half(flat).shape == (5, 4) and np.allclose(matlab_half(flat), 42.0)
    ramp = np.tile(np.arange(16, dtype=np.float64), (4, 1))
    # MATLAB: imresize(0:15, 0.5) interior samples sit at the pair centres 2i + 0.5
    assert np.allclose(matlab_half(ramp)[0, 2:6], [4.5, 6.5, 8.5, 10.5], atol=1e-9)

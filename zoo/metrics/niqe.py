"""NIQE, the "completely blind" natural image quality evaluator (Mittal, Soundararajan & Bovik, IEEE SPL 2013).

    score = niqe(rgb_uint8)              # float, lower = more natural; rgb [H, W, 3] or gray [H, W], 0..255

As the paper and its MATLAB release (`computequality.m`):
1. gray = MATLAB rgb2gray, rounded to integers; cropped to whole 96×96 patches (no overlap);
2. at two scales (full, and MATLAB `imresize(·, 0.5)`: bicubic with antialiasing), the MSCN coefficients
   (I − μ) / (σ + 1), μ and σ from a 7×7 Gaussian window (σ_w = 7/6, replicated borders);
3. per patch (96² at scale 1, 48² at scale 2), 18 features: the AGGD fit of the MSCN coefficients
   (α, (β_l + β_r)/2) and, for the products with the 4 neighbours (H, V, D1, D2; circular shift inside the patch),
   (α, η, β_l, β_r) with η = (β_r − β_l) Γ(2/α) / Γ(1/α) — 36 features per patch;
4. a Gaussian (μ_d, Σ_d) fitted to the patches' features (patches with NaN features dropped from Σ_d; with a
   single patch Σ_d = 0, as MATLAB's `nancov`), and
   NIQE = sqrt((μ_p − μ_d)ᵀ ((Σ_p + Σ_d)/2)⁺ (μ_p − μ_d)) against the pristine model (μ_p, Σ_p).
The pristine model ships in `zoo/metrics/data/niqe_pristine.npz` (provenance in data/README.md).
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import correlate
from scipy.special import gamma

PATCH = 96
WINDOW_RADIUS = 3
WINDOW_SIGMA = 7.0 / 6.0
_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)  # MATLAB rgb2gray
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical, two diagonals
DATA_PATH = Path(__file__).parent / "data" / "niqe_pristine.npz"


@lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray]:
    """(mu float64 [36], cov float64 [36, 36]) of the pristine image set."""
    with np.load(DATA_PATH) as data:
        return data["mu"].astype(np.float64), data["cov"].astype(np.float64)


@lru_cache(maxsize=1)
def _gaussian_window() -> np.ndarray:
    """[7, 7] normalised Gaussian, MATLAB fspecial('gaussian', 7, 7/6)."""
    x = np.arange(-WINDOW_RADIUS, WINDOW_RADIUS + 1, dtype=np.float64)
    g = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * WINDOW_SIGMA**2))
    return g / g.sum()


@lru_cache(maxsize=1)
def _shape_table() -> tuple[np.ndarray, np.ndarray]:
    """AGGD shape grid α ∈ [0.2, 10] (step 0.001) and ρ(α) = Γ(2/α)² / (Γ(1/α) Γ(3/α))."""
    alphas = np.arange(0.2, 10.0005, 0.001)
    rho = gamma(2 / alphas) ** 2 / (gamma(1 / alphas) * gamma(3 / alphas))
    return alphas, rho


def aggd_fit(values: np.ndarray) -> tuple[float, float, float]:
    """Moment-matching fit of an asymmetric generalised Gaussian: values [...] → (α, β_l, β_r) (NaN when one side
    of zero is empty)."""
    x = values.ravel().astype(np.float64)
    left, right = x[x < 0], x[x > 0]
    if len(left) == 0 or len(right) == 0:
        return math.nan, math.nan, math.nan
    sigma_l, sigma_r = math.sqrt(np.mean(left**2)), math.sqrt(np.mean(right**2))
    g = sigma_l / sigma_r
    r_hat = float(np.mean(np.abs(x))) ** 2 / float(np.mean(x**2))
    r_norm = r_hat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    alphas, rho = _shape_table()
    alpha = float(alphas[np.argmin((rho - r_norm) ** 2)])
    ratio = math.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, sigma_l * ratio, sigma_r * ratio


def patch_features(mscn: np.ndarray) -> list[float]:
    """The 18 NIQE features of one patch of MSCN coefficients [h, w]."""
    alpha, beta_l, beta_r = aggd_fit(mscn)
    features = [alpha, (beta_l + beta_r) / 2]
    for shift in _SHIFTS:
        alpha, beta_l, beta_r = aggd_fit(mscn * np.roll(mscn, shift, axis=(0, 1)))
        eta = (beta_r - beta_l) * gamma(2 / alpha) / gamma(1 / alpha) if math.isfinite(alpha) else math.nan
        features += [alpha, eta, beta_l, beta_r]
    return features


def mscn(gray: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients of a float image [H, W] (0..255) → [H, W]."""
    window = _gaussian_window()
    mu = correlate(gray, window, mode="nearest")
    sigma = np.sqrt(np.abs(correlate(gray * gray, window, mode="nearest") - mu * mu))
    return (gray - mu) / (sigma + 1)


def _cubic(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return np.where(a <= 1, 1.5 * a**3 - 2.5 * a**2 + 1, np.where(a <= 2, -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2, 0.0))


def _resize_matrix(length: int, scale: float) -> np.ndarray:
    """[ceil(length·scale), length] weights of MATLAB's imresize (bicubic, antialiased when scale < 1, symmetric
    borders) along one axis."""
    out = math.ceil(length * scale)
    width = 4.0 / scale if scale < 1 else 4.0
    centre = (np.arange(1, out + 1) / scale + 0.5 * (1 - 1 / scale))[:, None]  # 1-based input coordinates
    index = np.floor(centre - width / 2) + np.arange(math.ceil(width) + 2)[None, :]
    kernel_scale = scale if scale < 1 else 1.0
    weights = kernel_scale * _cubic(kernel_scale * (centre - index))
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(length), np.arange(length)[::-1]])
    columns = mirror[(index.astype(np.int64) - 1) % (2 * length)]
    matrix = np.zeros((out, length))
    np.add.at(matrix, (np.repeat(np.arange(out), columns.shape[1]), columns.ravel()), weights.ravel())
    return matrix


def matlab_half(gray: np.ndarray) -> np.ndarray:
    """MATLAB imresize(gray, 0.5) (bicubic, antialiased): [H, W] → [ceil(H/2), ceil(W/2)]."""
    h, w = gray.shape
    return _resize_matrix(h, 0.5) @ gray @ _resize_matrix(w, 0.5).T


def to_gray(image: np.ndarray) -> np.ndarray:
    """uint8 RGB [H, W, 3] (or gray [H, W]) → float64 gray [H, W] in 0..255, rounded like MATLAB rgb2gray."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = np.round(image[..., :3].astype(np.float64) @ np.asarray(_GRAY))
    if image.ndim != 2:
        raise ValueError(f"NIQE needs an RGB [H, W, 3] or gray [H, W] image, got shape {image.shape}")
    return image.astype(np.float64)


def niqe_features(image: np.ndarray, patch: int = PATCH) -> np.ndarray:
    """float64 [P, 36]: the features of the P non-overlapping patch×patch patches (scale 1 then scale 2)."""
    gray = to_gray(image)
    rows, cols = gray.shape[0] // patch, gray.shape[1] // patch
    if rows == 0 or cols == 0:
        raise ValueError(f"NIQE needs images of at least {patch}x{patch} pixels, got {gray.shape[1]}x{gray.shape[0]}")
    gray = gray[: rows * patch, : cols * patch]
    scales = []
    for scale in (1, 2):
        coefficients = mscn(gray)
        size = patch // scale
        scales.append(
            [
                patch_features(coefficients[r * size : (r + 1) * size, c * size : (c + 1) * size])
                for r in range(rows)
                for c in range(cols)
            ]
        )
        if scale == 1:
            gray = matlab_half(gray)
    return np.concatenate([np.asarray(s, dtype=np.float64) for s in scales], axis=1)


def niqe(image: np.ndarray) -> float:
    """NIQE of one image (uint8 RGB [H, W, 3] or gray [H, W], at least 96×96): lower is more natural."""
    features = niqe_features(image)
    mu_p, cov_p = pristine_model()
    mu_d = np.nanmean(features, axis=0)
    clean = features[~np.isnan(features).any(axis=1)]
    cov_d = np.cov(clean, rowvar=False) if len(clean) > 1 else np.zeros_like(cov_p)
    diff = mu_p - mu_d
    return float(np.sqrt(diff @ np.linalg.pinv((cov_p + cov_d) / 2) @ diff))

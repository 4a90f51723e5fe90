"""TalkingGaussian's image losses (its utils/loss_utils.py, as 3DGS): L1 + λ·(1 − SSIM) with an 11×11 Gaussian
window (σ 1.5, zero padding, mean over the map), and patch batches for LPIPS."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _window(size: int, sigma: float, channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    x = torch.arange(size, device=device, dtype=dtype) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean SSIM of images x, y [C, H, W] or [B, C, H, W] in [0, 1] (C1 = 0.01², C2 = 0.03²)."""
    if x.dim() == 3:
        x, y = x[None], y[None]
    c = x.shape[1]
    w = _window(window, sigma, c, x.device, x.dtype)
    pad = window // 2
    mu_x, mu_y = F.conv2d(x, w, padding=pad, groups=c), F.conv2d(y, w, padding=pad, groups=c)
    sxx = F.conv2d(x * x, w, padding=pad, groups=c) - mu_x**2
    syy = F.conv2d(y * y, w, padding=pad, groups=c) - mu_y**2
    sxy = F.conv2d(x * y, w, padding=pad, groups=c) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    value = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return value.mean()


def l1_dssim(x: torch.Tensor, y: torch.Tensor, lambda_dssim: float = 0.2) -> torch.Tensor:
    """TalkingGaussian's photometric loss: mean |x − y| + λ·(1 − SSIM(x, y)) (L1 weight 1, not 3DGS's 0.8)."""
    return (x - y).abs().mean() + lambda_dssim * (1 - ssim(x, y))


def patchify(image: torch.Tensor, size: int) -> torch.Tensor:
    """image [C, H, W] → non-overlapping patches [P, C, size, size] (the remainder is dropped); the whole image when
    it is smaller than one patch."""
    c, h, w = image.shape
    if h < size or w < size:
        return image[None]
    patches = F.unfold(image[None], kernel_size=size, stride=size)  # [1, C·s·s, P]
    return patches[0].T.reshape(-1, c, size, size)

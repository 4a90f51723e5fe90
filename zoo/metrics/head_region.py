"""Held-out scores of a 3-D head method's renders without any face tracker (the learning checks of ER-NeRF and
TalkingGaussian, scripts/*_learning.py and their CI versions): PSNR on the head region (parsing label 1) and on the
full frame, against a static baseline (the mean training frame), and a mouth-opening proxy.

The proxy is the darkness of the inner mouth: mean of max(0, τ − luminance) in a box hanging from the upper inner
lip, of one fixed height for all frames (the largest lip gap + 3 px), so that a mouth that does not open scores a
constant, not a spurious correlation. Its correlation with the ground-truth lip gap (landmarks 13–14) on the renders
says whether the mouth follows the held-out audio; on the ground-truth frames themselves it is the proxy's ceiling.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from talkzoo.zoo.face_indices import LOWER_INNER_LIP_MID, MOUTH_INNER, UPPER_INNER_LIP_MID


def mouth_darkness(image: torch.Tensor, landmarks: torch.Tensor, height: int, tau: float = 0.35) -> float:
    """Inner-mouth darkness in a box that does not move with the jaw: image [3, H, W] in [0, 1], landmarks [478, 3]
    px → mean max(0, τ − luminance) over rows [upper inner lip − 1, + height), cols between the mouth corners."""
    pts = landmarks[list(MOUTH_INNER), :2]
    c0, c1 = int(pts[:, 0].min().floor()), int(pts[:, 0].max().ceil())
    r0 = int(landmarks[UPPER_INNER_LIP_MID, 1].floor()) - 1
    luminance = 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]
    box = luminance[max(r0, 0) : max(r0, 0) + height, max(c0, 0) : max(c1, c0 + 2)]
    return float((tau - box).clamp(min=0).mean())


def pearson(a: list[float], b: list[float]) -> float:
    """Pearson correlation of two equal-length lists (0 when either is constant)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.std() < 1e-12 or y.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


class HeadRegionScores:
    """Accumulate held-out frames with `add`, then `compute()`.

    mean_frame [3, H, W] in [0, 1]: the static baseline scored on the same pixels.
    """

    def __init__(self, mean_frame: torch.Tensor) -> None:
        self.mean_frame = mean_frame
        self.sums = {"model": 0.0, "base": 0.0, "model_full": 0.0, "base_full": 0.0}
        self.head_pixels, self.pixels = 0, 0
        self.renders: list[torch.Tensor] = []
        self.targets: list[torch.Tensor] = []
        self.landmarks: list[torch.Tensor] = []
        self.gaps: list[float] = []

    def add(self, render: torch.Tensor, target: torch.Tensor, parsing: torch.Tensor, landmarks: torch.Tensor) -> None:
        """render, target [3, H, W] in [0, 1]; parsing [H, W] (1 = head); landmarks [478, 3] px of the target."""
        head = parsing == 1
        for name, pred in (("model", render), ("base", self.mean_frame)):
            err = ((pred - target) ** 2).mean(dim=0)
            self.sums[name] += float(err[head].sum())
            self.sums[f"{name}_full"] += float(err.sum())
        self.head_pixels += int(head.sum())
        self.pixels += head.numel()
        self.renders.append(render)
        self.targets.append(target)
        self.landmarks.append(landmarks)
        self.gaps.append(float((landmarks[LOWER_INNER_LIP_MID, :2] - landmarks[UPPER_INNER_LIP_MID, :2]).norm()))

    def compute(self) -> dict[str, float]:
        """Head-region and full-frame PSNR (dB) of the renders and of the mean frame; the mouth proxy's
        correlations (render vs lip gap, ground truth vs lip gap, render vs ground truth) and spreads."""
        height = int(math.ceil(max(self.gaps))) + 3
        proxy = [mouth_darkness(im, lm, height) for im, lm in zip(self.renders, self.landmarks, strict=True)]
        proxy_gt = [mouth_darkness(im, lm, height) for im, lm in zip(self.targets, self.landmarks, strict=True)]
        return {
            "val_frames": len(self.gaps),
            "psnr_head": -10 * math.log10(self.sums["model"] / self.head_pixels),
            "psnr_head_mean_frame": -10 * math.log10(self.sums["base"] / self.head_pixels),
            "psnr_full": -10 * math.log10(self.sums["model_full"] / self.pixels),
            "psnr_full_mean_frame": -10 * math.log10(self.sums["base_full"] / self.pixels),
            "mouth_corr_render_vs_gap": pearson(proxy, self.gaps),
            "mouth_corr_gt_proxy_vs_gap": pearson(proxy_gt, self.gaps),
            "mouth_corr_render_vs_gt_proxy": pearson(proxy, proxy_gt),
            "mouth_proxy_render_std": float(np.std(proxy)),
            "mouth_proxy_gt_std": float(np.std(proxy_gt)),
        }

"""Mouth metrics of rendered frames against ground-truth frames, accumulated over a validation epoch as sums
(so DDP ranks reduce them with one all-reduce): lip LMD in pixels and the correlation of the mouth opening, both
from MediaPipe lip points measured on the two images (talkzoo.zoo.metrics.lip_tracker)."""

from __future__ import annotations

import math

import numpy as np
import torch

from talkzoo.zoo.metrics.landmarks import landmark_distance, mouth_opening
from talkzoo.zoo.metrics.lip_tracker import LipTracker

SUM_KEYS = ("frames", "found", "lmd", "ox", "oy", "oxx", "oyy", "oxy")


def pearson_from_sums(n: float, sx: float, sy: float, sxx: float, syy: float, sxy: float) -> float:
    """Pearson correlation from running sums over n pairs (0 when either side is constant or n < 2)."""
    if n < 2:
        return 0.0
    cov = sxy / n - sx * sy / n**2
    var_x, var_y = sxx / n - (sx / n) ** 2, syy / n - (sy / n) ** 2
    return cov / math.sqrt(var_x * var_y) if var_x > 0 and var_y > 0 else 0.0


class ImageMouthMetrics:
    """Accumulate (render, target) pairs; `sums()` → float64 [8] (reduce across ranks), `compute(sums)` → metrics.

    Metrics: `mouth_lmd` (px, mean over frames where both faces are found), `mouth_corr` (Pearson of the inner-lip
    opening, render vs target), `mouth_found` (fraction of frames with both faces found). The lips are measured as
    `talkzoo evaluate` measures them: each image and its mirror image, averaged (mirror=True; `LipTracker`).
    """

    def __init__(self, min_side: int = 256, mirror: bool = True) -> None:
        self.tracker = LipTracker(min_side=min_side, mirror=mirror)
        self.values = dict.fromkeys(SUM_KEYS, 0.0)

    def close(self) -> None:
        self.tracker.close()

    def add(self, render: np.ndarray, target: np.ndarray) -> None:
        """render, target: uint8 RGB [H, W, 3] of the same frame."""
        self.values["frames"] += 1
        pred, true = self.tracker(render), self.tracker(target)
        if pred is None or true is None:
            return
        p, t = torch.from_numpy(pred)[None], torch.from_numpy(true)[None]
        op, ot = float(mouth_opening(p)), float(mouth_opening(t))
        v = self.values
        v["found"] += 1
        v["lmd"] += float(landmark_distance(p, t))
        v["ox"], v["oy"] = v["ox"] + op, v["oy"] + ot
        v["oxx"], v["oyy"], v["oxy"] = v["oxx"] + op * op, v["oyy"] + ot * ot, v["oxy"] + op * ot

    def sums(self) -> torch.Tensor:
        return torch.tensor([self.values[k] for k in SUM_KEYS], dtype=torch.float64)

    @staticmethod
    def compute(sums: torch.Tensor) -> dict[str, float]:
        s = dict(zip(SUM_KEYS, sums.tolist(), strict=True))
        found = s["found"]
        out = {"mouth_found": found / s["frames"] if s["frames"] else 0.0}
        if found > 0:
            out["mouth_lmd"] = s["lmd"] / found
            out["mouth_corr"] = pearson_from_sums(found, s["ox"], s["oy"], s["oxx"], s["oyy"], s["oxy"])
        return out

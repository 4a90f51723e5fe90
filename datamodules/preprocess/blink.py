"""Blink in [0, 1] (0 open, 1 closed) from eyelid geometry in the canonical frame, normalised per speaker.

Per eye the opening is the mean of three vertical lid distances over the corner-to-corner width (an eye aspect
ratio, pose-free because it is measured on the canonical landmarks). The speaker's open level is the 90th
percentile of the ratio, the closed level its 0.5th percentile (at most half the open level, so a speaker who
never blinks gets small values, not amplified noise). Replaces OpenFace AU45 (ER-NeRF: clip(AU45, 0, 2) / 2).
"""

from __future__ import annotations

import numpy as np

# (upper, lower) lid pairs and (corner, corner) per eye: image-left eye (subject's right), then the other.
EYE_PAIRS = (((159, 145), (158, 153), (160, 144)), ((386, 374), (385, 380), (387, 373)))
EYE_CORNERS = ((33, 133), (362, 263))
OPEN_PERCENTILE = 90.0
CLOSED_PERCENTILE = 0.5
MAX_CLOSED_FRACTION = 0.5


def eye_ratio(canonical: np.ndarray) -> np.ndarray:
    """float64 [T]: mean over both eyes of lid distance / eye width, from landmarks [T, 478, 3]."""
    ratios = []
    for pairs, (a, b) in zip(EYE_PAIRS, EYE_CORNERS, strict=True):
        gap = np.mean([np.linalg.norm(canonical[:, u] - canonical[:, d], axis=-1) for u, d in pairs], axis=0)
        width = np.linalg.norm(canonical[:, a] - canonical[:, b], axis=-1)
        ratios.append(gap / np.maximum(width, 1e-6))
    return np.mean(ratios, axis=0)


def blink_signal(canonical: np.ndarray) -> np.ndarray:
    """float32 [T] in [0, 1] from canonical landmarks [T, 478, 3]."""
    ratio = eye_ratio(canonical.astype(np.float64))
    open_level = float(np.percentile(ratio, OPEN_PERCENTILE))
    closed_level = min(float(np.percentile(ratio, CLOSED_PERCENTILE)), MAX_CLOSED_FRACTION * open_level)
    blink = (open_level - ratio) / max(open_level - closed_level, 1e-6)
    return np.clip(blink, 0.0, 1.0).astype(np.float32)

"""Landmark post-processing: fill frames without a face, refuse long losses, zero-lag temporal smoothing.

Smoothing is a centred Savitzky-Golay filter (order 2): it removes frame-to-frame jitter and, being symmetric,
introduces no lag; order 2 keeps the peaks of fast lip motion (docs/preprocessing.md has the measurements).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import savgol_filter

from talkzoo.datamodules.preprocess.crop import longest_gap
from talkzoo.datamodules.preprocess.errors import PreprocessError


def check_face_coverage(detected: np.ndarray, fps: float, max_lost_s: float, max_fraction: float, src: Path) -> None:
    """Raise PreprocessError when the face is missing for more than max_lost_s in a row, or too often overall."""
    if not detected.any():
        raise PreprocessError(f"{src}: no face found in any frame; give a video showing one talking face")
    start, length = longest_gap(~detected)
    if length / fps > max_lost_s:
        raise PreprocessError(
            f"{src}: the face is lost for {length / fps:.1f} s (frames {start}-{start + length - 1}, from "
            f"{start / fps:.1f} s; the limit is {max_lost_s:g} s); cut those parts out of the video"
        )
    lost = 1.0 - float(detected.mean())
    if lost > max_fraction:
        raise PreprocessError(
            f"{src}: no face in {100 * lost:.0f}% of the frames (the limit is {100 * max_fraction:.0f}%); "
            "cut the parts without the face"
        )


def fill_missing(landmarks: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """float32 [T, N, 3]: undetected frames linearly interpolated from their detected neighbours (held at ends)."""
    t = np.arange(len(landmarks))
    good = np.flatnonzero(detected)
    flat = landmarks.reshape(len(landmarks), -1).astype(np.float64)
    out = flat.copy()
    missing = np.flatnonzero(~detected)
    if len(missing):
        for k in range(flat.shape[1]):
            out[missing, k] = np.interp(t[missing], t[good], flat[good, k])
    return out.reshape(landmarks.shape).astype(np.float32)


def smooth(values: np.ndarray, window: int, order: int = 2) -> np.ndarray:
    """Centred Savitzky-Golay along axis 0 of [T, ...] (no lag); unchanged when T ≤ window or window < 3."""
    if window < 3 or len(values) <= window:
        return values.astype(np.float32)
    window += 1 - window % 2
    return savgol_filter(values.astype(np.float64), window, order, axis=0, mode="interp").astype(np.float32)


def jitter(values: np.ndarray) -> float:
    """Mean absolute second difference along time of [T, ...] (pixels): frame-to-frame noise."""
    return float(np.abs(np.diff(values, n=2, axis=0)).mean()) if len(values) > 2 else 0.0


def lag_frames(reference: np.ndarray, smoothed: np.ndarray, max_lag: int = 5) -> int:
    """Lag (frames, positive = smoothed late) maximising the correlation of two [T] signals."""
    a = reference - reference.mean()
    b = smoothed - smoothed.mean()
    best, best_lag = -np.inf, 0
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[: len(a) - lag], b[lag:]) if lag >= 0 else (a[-lag:], b[: len(b) + lag])
        c = float(np.dot(x, y))
        if c > best:
            best, best_lag = c, lag
    return best_lag

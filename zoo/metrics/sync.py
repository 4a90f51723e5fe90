"""A weight-free audio-visual sync score: cross-correlation of mouth opening and speech energy over time lags.

SyncNet (the papers' LSE-D / LSE-C) needs pretrained weights that cannot be shipped; this proxy needs none.
Both signals are z-scored per clip; the Pearson correlation is computed at every lag in [-max_lag, max_lag] frames.
offset = the lag of the peak (positive: the video lags the audio by that many frames);
confidence = peak correlation − median correlation over the lags (as SyncNet's confidence: peak minus median).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SyncScore:
    """Result of `sync_offset`: best lag (frames), its correlation, and the peak-minus-median confidence."""

    offset: int
    correlation: float
    confidence: float


def frame_energy(wave: np.ndarray, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """Log RMS energy of the audio under each video frame: wave [N] → float32 [num_frames].

    Frame i covers samples [round(i·sr/fps), round((i+1)·sr/fps)); samples past the end count as silence.
    """
    bounds = np.round(np.arange(num_frames + 1) * sample_rate / fps).astype(np.int64)
    padded = np.zeros(max(int(bounds[-1]), len(wave)), dtype=np.float64)
    padded[: len(wave)] = wave
    power = np.add.reduceat(padded**2, bounds[:-1]) / np.diff(bounds)
    return np.log(power + 1e-8).astype(np.float32) * 0.5


def _zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean()) / max(float(x.std()), 1e-12)


def sync_curve(mouth_opening: np.ndarray, energy: np.ndarray, max_lag: int = 15) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of mouth_opening [T] (video) and energy [T] (audio) at every lag in ±max_lag frames:
    (lags int [2·max_lag + 1], correlations float64 [2·max_lag + 1]); at lag k video frame t + k meets audio frame t.
    """
    mouth, audio = np.asarray(mouth_opening), np.asarray(energy)
    if mouth.shape != audio.shape or mouth.ndim != 1:
        raise ValueError(f"need two [T] signals of one length, got {mouth.shape} and {audio.shape}")
    if len(mouth) < 2 * max_lag + 2:
        raise ValueError(f"{len(mouth)} frames are too few for lags of ±{max_lag} frames")
    lags = np.arange(-max_lag, max_lag + 1)
    correlations = np.empty(len(lags))
    for i, lag in enumerate(lags):
        video = mouth[max(lag, 0) : len(mouth) + min(lag, 0)]
        sound = audio[max(-lag, 0) : len(audio) - max(lag, 0)]
        correlations[i] = float(np.mean(_zscore(video) * _zscore(sound)))
    return lags, correlations


def sync_offset(mouth_opening: np.ndarray, energy: np.ndarray, max_lag: int = 15) -> SyncScore:
    """Best alignment of mouth_opening [T] (video) against energy [T] (audio) within ±max_lag frames.

    A video that shows a sound k frames after it is heard has offset k.
    """
    lags, correlations = sync_curve(mouth_opening, energy, max_lag)
    best = int(np.argmax(correlations))
    return SyncScore(
        offset=int(lags[best]),
        correlation=float(correlations[best]),
        confidence=float(correlations[best] - np.median(correlations)),
    )

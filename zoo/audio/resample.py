"""Bring a waveform to 16 kHz float32 mono, the input of every extractor."""

from __future__ import annotations

from math import gcd

import numpy as np
from scipy.signal import resample_poly

from talkzoo.zoo.audio.types import SAMPLE_RATE, AudioError


def to_mono_16k(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Return `wave` as float32 [N'] at 16 kHz.

    wave: [N] mono, or [N, C] / [C, N] with C <= 8 channels (averaged to mono). Integer PCM is scaled to [-1, 1].
    A rate other than 16 kHz is resampled with a polyphase filter (scipy.signal.resample_poly), so
    N' = ceil(N * 16000 / sample_rate): the duration is preserved.
    """
    x = np.asarray(wave)
    if np.issubdtype(x.dtype, np.integer):
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max)
    x = x.astype(np.float32, copy=False)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] <= 8 and x.shape[0] > x.shape[1] else x.mean(axis=0)
    if x.ndim != 1:
        raise AudioError(f"audio must be mono [N] or [N, channels], got shape {tuple(np.shape(wave))}")
    if sample_rate <= 0:
        raise AudioError(f"sample rate must be positive, got {sample_rate}")
    if sample_rate != SAMPLE_RATE and x.size:
        g = gcd(int(sample_rate), SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, int(sample_rate) // g).astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise AudioError("audio contains NaN or infinite samples")
    return np.ascontiguousarray(x)

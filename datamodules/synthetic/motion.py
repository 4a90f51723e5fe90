"""Per-frame animation parameters: speech-driven mouth, random blinks, smooth head motion, lagging torso sway.

All randomness comes from one `numpy.random.Generator`, so a seed fixes the motion; the mouth depends on the
audio only. Lengths are in pixels at the output size unless stated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

MOUTH_LEAD_FRAMES = 1  # the mouth moves ~40 ms before the sound, as real mouths do
HEAD_LIMITS_DEG = (12.0, 8.0, 5.0)  # yaw, pitch, roll
HARD_HEAD_LIMITS_DEG = (25.0, 15.0, 8.0)  # the hard style's larger, out-of-plane turns
HEAD_SHIFT = (4.0, 3.0, 6.0)  # x, y, z translation limits at 512² (scaled with the size)
SWAY_LAG_S = 0.3
SWAY_GAIN = 0.35


@dataclass(frozen=True)
class MouthTrack:
    """float64 [T] each: open (lower-lip drop), lift (upper-lip rise), width (corner shift; < 0 rounds), loudness
    in [0, 1] (the RMS level that drives the opening, without lead or smoothing)."""

    open: np.ndarray
    lift: np.ndarray
    width: np.ndarray
    loudness: np.ndarray


def frame_windows(wave: np.ndarray, num_frames: int, hop: int, window: int) -> np.ndarray:
    """[T, window] Hann-windowed chunks of wave [N] centred on each frame's centre (zero padded)."""
    pad = window
    padded = np.pad(wave.astype(np.float64), (pad, pad + window))
    starts = (np.arange(num_frames) * hop + hop // 2 - window // 2 + pad).astype(int)
    idx = starts[:, None] + np.arange(window)[None, :]
    return padded[idx] * np.hanning(window)[None, :]


def loudness(wave: np.ndarray, num_frames: int, hop: int) -> np.ndarray:
    """[T] level in [0, 1]: frame RMS in dB mapped from (loud − 30 dB) .. loud, loud = the 95th percentile."""
    chunks = frame_windows(wave, num_frames, hop, 2 * hop)
    rms = np.sqrt((chunks**2).mean(axis=1) / 0.375 + 1e-12)
    db = 20 * np.log10(rms + 1e-9)
    ref = 20 * np.log10(np.percentile(rms, 95) + 1e-9) if np.any(rms > 1e-6) else 0.0
    return np.clip((db - (ref - 30.0)) / 30.0, 0.0, 1.0)


def spectral_shape(wave: np.ndarray, num_frames: int, hop: int, sample_rate: int) -> np.ndarray:
    """[T] in [-1, 1]: log2 spectral centroid (100 Hz – 5 kHz) around 1.2 kHz; > 0 bright (wide), < 0 dark (round)."""
    chunks = frame_windows(wave, num_frames, hop, 2 * hop)
    power = np.abs(np.fft.rfft(chunks, axis=1)) ** 2
    freqs = np.fft.rfftfreq(chunks.shape[1], 1.0 / sample_rate)
    band = (freqs >= 100) & (freqs <= 5000)
    centroid = (power[:, band] * freqs[band]).sum(1) / (power[:, band].sum(1) + 1e-12)
    return np.clip(np.log2(np.maximum(centroid, 1.0) / 1200.0) / 1.2, -1.0, 1.0)


def mouth_track(wave: np.ndarray, num_frames: int, hop: int, sample_rate: int, mouth_width: float) -> MouthTrack:
    """Mouth parameters per frame from audio wave [N] (hop samples per frame); mouth_width in pixels."""
    level = loudness(wave, num_frames, hop)
    shape = spectral_shape(wave, num_frames, hop, sample_rate)

    def lead_smooth(x: np.ndarray) -> np.ndarray:
        led = np.concatenate([x[MOUTH_LEAD_FRAMES:], np.repeat(x[-1:], MOUTH_LEAD_FRAMES)])
        return gaussian_filter1d(led, 0.8, mode="nearest")

    opening = lead_smooth(level**1.6) * 0.2 * mouth_width
    width = lead_smooth(shape * np.minimum(1.0, 2.0 * level)) * 0.07 * mouth_width
    return MouthTrack(open=opening, lift=0.12 * opening, width=width, loudness=level)


def blink_track(num_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """[T] eyelid closure in [0, 1]: blinks every 2–6 s (first within 0.5–2 s), 150–250 ms, closing faster."""
    out = np.zeros(num_frames)
    t = rng.uniform(0.5, 2.0)
    duration_total = num_frames / fps
    times = np.arange(num_frames) / fps
    while t < duration_total:
        duration = rng.uniform(0.15, 0.25)
        peak = round(t * fps) / fps  # the fully closed instant falls on a frame
        close, reopen = 0.4 * duration, 0.6 * duration
        rel = times - peak
        closing = (rel >= -close) & (rel <= 0)
        opening = (rel > 0) & (rel <= reopen)
        value = np.zeros(num_frames)
        value[closing] = np.cos(0.5 * np.pi * rel[closing] / close) ** 2
        value[opening] = np.cos(0.5 * np.pi * rel[opening] / reopen) ** 2
        out = np.maximum(out, value)
        t += float(np.clip(2.0 + rng.exponential(1.5), 2.0, 6.0))
    return out


def smooth_noise(
    num_frames: int, fps: float, rng: np.random.Generator, low: float = 0.2, high: float = 1.0
) -> np.ndarray:
    """[T] smooth random signal in (-1, 1): 3 sinusoids at low–high Hz (amplitude ∝ f^-0.5), soft-limited."""
    t = np.arange(num_frames) / fps
    freqs = rng.uniform(low, high, 3)
    amps = rng.uniform(0.5, 1.0, 3) / np.sqrt(freqs)
    phases = rng.uniform(0, 2 * np.pi, 3)
    signal = (amps[:, None] * np.sin(2 * np.pi * freqs[:, None] * t[None, :] + phases[:, None])).sum(0) / amps.sum()
    return np.tanh(1.6 * signal) / np.tanh(1.6)


@dataclass(frozen=True)
class HeadTrack:
    """angles float64 [T, 3] (yaw, pitch, roll, radians); shift float64 [T, 3] translation from the rest anchor."""

    angles: np.ndarray
    shift: np.ndarray


def head_track(
    num_frames: int,
    fps: float,
    rng: np.random.Generator,
    size: int,
    limits_deg: tuple[float, float, float] = HEAD_LIMITS_DEG,
) -> HeadTrack:
    """Smooth random head rotation (yaw, pitch, roll within ±limits_deg; default ±12°, ±8°, ±5°) and translation
    (a few pixels, scaled to the size)."""
    angles = np.stack([np.deg2rad(lim) * smooth_noise(num_frames, fps, rng) for lim in limits_deg], axis=1)
    shift = np.stack([lim * size / 512 * smooth_noise(num_frames, fps, rng) for lim in HEAD_SHIFT], axis=1)
    return HeadTrack(angles=angles, shift=shift)


def sway_track(head_offset: np.ndarray, fps: float, rng: np.random.Generator, size: int) -> np.ndarray:
    """[T, 2] torso translation (pixels): SWAY_GAIN × the head's image offset [T, 2] delayed by SWAY_LAG_S,
    plus a little independent slow drift."""
    lag = int(round(SWAY_LAG_S * fps))
    delayed = np.concatenate([np.repeat(head_offset[:1], lag, axis=0), head_offset[: len(head_offset) - lag]])
    drift = np.stack([smooth_noise(len(head_offset), fps, rng, 0.1, 0.4) for _ in range(2)], axis=1)
    return SWAY_GAIN * delayed + 1.5 * size / 512 * drift


def light_track(num_frames: int, fps: float, rng: np.random.Generator, rest: np.ndarray) -> np.ndarray:
    """[T, 3] unit vectors toward a slowly moving light (camera axes): the rest direction rest [3] swung by up to
    ±35° sideways and ±15° up and down, at 0.03–0.1 Hz."""
    yaw = np.deg2rad(35.0) * smooth_noise(num_frames, fps, rng, 0.03, 0.1)
    pitch = np.deg2rad(15.0) * smooth_noise(num_frames, fps, rng, 0.03, 0.1)
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    x, y, z = rest
    x1, z1 = cy * x + sy * z, -sy * x + cy * z  # about the camera's y axis
    y2, z2 = cp * y - sp * z1, sp * y + cp * z1  # about the camera's x axis
    out = np.stack([x1, y2, z2], axis=1)
    return out / np.linalg.norm(out, axis=1, keepdims=True)

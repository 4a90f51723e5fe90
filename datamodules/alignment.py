"""Audio ↔ video alignment: features at their own rate resampled to frames, feature windows, audio sample ranges.

Time convention (centred frames): video frame i is at i / fps seconds, feature step j at j / rate_hz seconds,
audio sample n at n / sample_rate. Every position is computed from the absolute frame index, so nothing drifts
(MODA sliced audio with a truncated samples-per-frame and drifted by 5.6 frames after 5 minutes: docs/moda.md,
"Fixes" #11).
"""

from __future__ import annotations

import numpy as np

from talkzoo.datamodules.speaker import SpeakerFormatError


def check_feature_length(num_steps: int, rate_hz: float, fps: float, num_frames: int, source: str) -> None:
    """Raise SpeakerFormatError unless `num_steps` features at `rate_hz` cover `num_frames` frames at `fps`.

    The features may differ from the video by at most one frame (or one feature step, when a step is longer than
    a frame); the message names `source` (the feature file) and both durations, never a silent drift.
    """
    if rate_hz <= 0 or fps <= 0:
        raise SpeakerFormatError(f"{source}: rates must be positive (features {rate_hz} Hz, video {fps} fps)")
    covered = num_steps / rate_hz * fps
    if abs(covered - num_frames) > max(1.0, fps / rate_hz):
        raise SpeakerFormatError(
            f"{source}: {num_steps} steps at {rate_hz:g} Hz = {num_steps / rate_hz:.3f} s cover {covered:.1f} frames, "
            f"but the video has {num_frames} frames = {num_frames / fps:.3f} s at {fps:g} fps; "
            "re-extract the features from this speaker's audio.wav"
        )


def interpolate_features(values: np.ndarray, rate_hz: float, fps: float, frames: np.ndarray) -> np.ndarray:
    """Linearly interpolate features at the times of the given frames.

    values: [F, D] (a memmap is fine: only the rows needed are read); frames: int [N] frame indices.
    Returns float32 [N, D]; frame i takes the value at time i / fps, i.e. feature position i · rate_hz / fps,
    clamped to [0, F - 1] at the ends.
    """
    frames = np.asarray(frames, dtype=np.int64)
    num_steps = values.shape[0]
    if num_steps == 0:
        raise SpeakerFormatError("audio features are empty (0 steps); re-extract them")
    position = np.clip(frames * (rate_hz / fps), 0.0, num_steps - 1)
    lo = np.floor(position).astype(np.int64)
    hi = np.minimum(lo + 1, num_steps - 1)
    weight = (position - lo).astype(np.float32)[:, None]
    rows = np.unique(np.concatenate([lo, hi]))
    block = np.asarray(values[rows], dtype=np.float32)  # only the rows we need, read once
    lo_v = block[np.searchsorted(rows, lo)]
    hi_v = block[np.searchsorted(rows, hi)]
    return lo_v * (1.0 - weight) + hi_v * weight


def features_at_frames(
    values: np.ndarray, rate_hz: float, fps: float, num_frames: int, source: str = "audio features"
) -> np.ndarray:
    """Features [F, D] at rate_hz resampled to the video: float32 [num_frames, D].

    Raises SpeakerFormatError naming `source` when the features do not cover the frames to within one frame.
    """
    check_feature_length(values.shape[0], rate_hz, fps, num_frames, source)
    return interpolate_features(values, rate_hz, fps, np.arange(num_frames))


def feature_windows(
    values: np.ndarray,
    rate_hz: float,
    fps: float,
    frames: np.ndarray,
    window: int,
    num_frames: int | None = None,
) -> np.ndarray:
    """Windows of `window` feature steps centred on each frame, at the features' own rate, zero-padded.

    values: [F, D]; frames: int [N]. Frame i's centre step is c = round(i · rate_hz / fps) and its window covers
    steps [c - window // 2, c - window // 2 + window) (ER-NeRF: 16 steps at 50 Hz = 320 ms, frame i → [2i-8, 2i+8)).
    Steps outside [0, F) are zeros; when `num_frames` is given, frames outside [0, num_frames) get all-zero windows
    (as ER-NeRF pads its frame context). Returns float32 [N, window, D].
    """
    frames = np.asarray(frames, dtype=np.int64)
    num_steps, dim = values.shape
    centre = np.floor(frames * (rate_hz / fps) + 0.5).astype(np.int64)
    steps = centre[:, None] - window // 2 + np.arange(window)[None, :]  # [N, window]
    valid = (steps >= 0) & (steps < num_steps)
    if num_frames is not None:
        valid &= ((frames >= 0) & (frames < num_frames))[:, None]
    out = np.zeros((frames.shape[0], window, dim), dtype=np.float32)
    if valid.any():
        rows = np.unique(steps[valid])
        block = np.asarray(values[rows], dtype=np.float32)
        out[valid] = block[np.searchsorted(rows, steps[valid])]
    return out


def frame_sample_start(frame: int | np.ndarray, sample_rate: int, fps: float) -> np.ndarray:
    """First audio sample of frame(s): round(i · sample_rate / fps), from the absolute index (no drift). int64."""
    return np.floor(np.asarray(frame, dtype=np.float64) * (sample_rate / fps) + 0.5).astype(np.int64)


def frame_sample_ranges(frames: np.ndarray, sample_rate: int, fps: float) -> np.ndarray:
    """int64 [N, 2]: [start, end) audio samples of each frame, start = round(i·sr/fps), end = start of frame i+1."""
    frames = np.asarray(frames, dtype=np.int64)
    return np.stack([frame_sample_start(frames, sample_rate, fps), frame_sample_start(frames + 1, sample_rate, fps)], 1)


def window_num_samples(window: int, sample_rate: int, fps: float) -> int:
    """Fixed waveform length of a window of `window` frames: round(window · sr / fps) samples."""
    return int(frame_sample_start(window, sample_rate, fps))


def waveform_window(
    wave: np.ndarray, start_frame: int, window: int, sample_rate: int, fps: float, end_frame: int | None = None
) -> np.ndarray:
    """float32 [round(window·sr/fps)]: audio of frames [start_frame, start_frame + window), zero-padded.

    Samples at or beyond `end_frame`'s first sample (the end of the split, if given) or beyond the wave are zeros,
    so a window never carries audio from outside its split.
    """
    length = window_num_samples(window, sample_rate, fps)
    start = int(frame_sample_start(start_frame, sample_rate, fps))
    stop = min(start + length, wave.shape[0])
    if end_frame is not None:
        stop = min(stop, int(frame_sample_start(end_frame, sample_rate, fps)))
    out = np.zeros(length, dtype=np.float32)
    if stop > start:
        out[: stop - start] = wave[start:stop]
    return out

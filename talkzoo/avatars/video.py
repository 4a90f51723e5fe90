"""A whole audio file through an Avatar into an mp4 (`talkzoo generate`): the same pushes as a live stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from talkzoo.zoo.errors import UserError

from .base import Avatar


def avatar_frames(avatar: Avatar, wave: np.ndarray, piece_seconds: float = 1.0) -> Iterator[np.ndarray]:
    """Frames of `wave` (mono float32, 16 kHz) fed in pieces of `piece_seconds` (memory stays flat), then finish().
    The frames do not depend on the piece size (the Avatar contract)."""
    avatar.reset()
    step = max(1, int(piece_seconds * avatar.sample_rate))
    for start in range(0, len(wave), step):
        yield from avatar.push(wave[start : start + step])
    yield from avatar.finish()


def write_avatar_video(avatar: Avatar, audio: str | Path, out: str | Path, progress: bool = True) -> Path:
    """Render the audio file (wav / mp3 / ogg / a video with sound; any rate) into the mp4 `out` with the audio
    muxed in (16 kHz mono AAC); T = round(duration · fps) frames. Returns `out`."""
    # PyAV only here: the avatars load and stream without it (the GPU kit's machine has none)
    from talkzoo.datamodules.media import read_audio, write_video

    audio = Path(audio)
    if not audio.is_file():
        raise UserError(f"{audio}: audio file not found; pass an existing --audio file")
    wave = read_audio(audio, avatar.sample_rate)
    if len(wave) < avatar.sample_rate // 100:
        raise UserError(f"{audio}: the audio is shorter than 10 ms; pass a longer --audio")
    total = max(1, int(round(len(wave) * avatar.fps / avatar.sample_rate)))
    frames = tqdm(avatar_frames(avatar, wave), total=total, desc=f"{avatar.method} frames", unit="frame",
                  disable=not progress)  # fmt: skip
    return write_video(out, frames, avatar.fps, audio=wave, sample_rate=avatar.sample_rate)

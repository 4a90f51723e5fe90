"""Input checks before anything is written: readable video, an audio stream, long enough, lengths agree."""

from __future__ import annotations

import os
from pathlib import Path

import av

from talkzoo.datamodules.media import MediaError, VideoInfo, probe_video
from talkzoo.datamodules.preprocess.config import PreprocessConfig
from talkzoo.datamodules.preprocess.errors import PreprocessError


def check_video(path: str | os.PathLike[str], cfg: PreprocessConfig) -> VideoInfo:
    """Probe `path` and refuse what cannot become a speaker (raises PreprocessError, one line each)."""
    path = Path(path)
    if not path.is_file():
        raise PreprocessError(f"{path}: no such file; check the path")
    try:
        info = probe_video(path)
    except (MediaError, av.error.FFmpegError) as exc:
        raise PreprocessError(
            f"{path}: not a readable video, or a truncated / corrupt file ({exc}); give a complete mp4/mov/mkv/webm"
        ) from exc
    if info.num_frames <= 0 or info.fps <= 0 or info.width <= 0 or info.height <= 0:
        raise PreprocessError(f"{path}: the video stream has no decodable frames; re-export the video")
    if not info.has_audio:
        raise PreprocessError(
            f"{path}: no audio stream; preprocessing needs the speech track (mux it in, e.g. an mp4 with AAC audio)"
        )
    duration = video_seconds(info)
    if duration < cfg.min_seconds:
        raise PreprocessError(
            f"{path}: the video is {duration:.2f} s long, shorter than the minimum {cfg.min_seconds:g} s; "
            "use a longer video (3-5 minutes is typical)"
        )
    if info.audio_duration_s > 0:
        check_av_lengths(path, duration, info.audio_duration_s, cfg)
    return info


def video_seconds(info: VideoInfo) -> float:
    """Duration of the video stream in seconds: the shorter of the stated duration and frames / fps.

    Containers without a stream duration (mkv, webm) state the container's, which includes a longer audio track.
    """
    counted = info.num_frames / info.fps
    return min(info.duration_s, counted) if info.duration_s > 0 else counted


def check_av_lengths(path: Path, video_s: float, audio_s: float, cfg: PreprocessConfig) -> None:
    """Raise when audio and video differ by more than cfg.av_tolerance_seconds (smaller gaps are trimmed/padded)."""
    if abs(audio_s - video_s) > cfg.av_tolerance_seconds:
        raise PreprocessError(
            f"{path}: audio is {audio_s:.2f} s but video is {video_s:.2f} s (difference > "
            f"{cfg.av_tolerance_seconds:g} s); re-mux so both tracks cover the same time"
        )


def num_output_frames(info: VideoInfo, fps: float) -> int:
    """T: output frames at constant `fps` covering the video stream."""
    return max(1, int(round(video_seconds(info) * fps)))

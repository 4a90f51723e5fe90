"""Video and audio file I/O through PyAV (it bundles ffmpeg: no system ffmpeg at run time).

    write_video("out.mp4", frames, fps=25, audio=wave, sample_rate=16000)   # h264 yuv420p + AAC, mp4
    info = probe_video("out.mp4")                                           # VideoInfo
    for rgb in iter_frames("out.mp4"): ...                                  # uint8 [H, W, 3]
    wave = read_audio("out.mp4", sample_rate=16000)                         # float32 [N] mono

Errors a user can cause (missing file, not a video, no audio stream) raise `MediaError` with one clear line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from itertools import chain
from pathlib import Path
from typing import Any

import av
import numpy as np

from talkzoo.zoo.errors import UserError

AUDIO_CHUNK = 1024  # samples per encoded audio frame (AAC frame size)


class MediaError(UserError, ValueError):
    """A media file that cannot be read or written; the message names the file and the fix."""


@dataclass(frozen=True)
class VideoInfo:
    """What `probe_video` finds in a media file. Audio fields are 0 / "" when there is no audio stream."""

    path: Path
    fps: float
    num_frames: int
    width: int
    height: int
    duration_s: float
    has_audio: bool
    audio_rate: int
    audio_duration_s: float
    video_codec: str
    audio_codec: str

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


def _open(path: str | os.PathLike[str]) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file; check the path")
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, ValueError) as exc:
        raise MediaError(f"{path}: not a readable video/audio file ({exc}); give an mp4/mov/mkv/wav file") from exc


def _video_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise MediaError(f"{path}: no video stream in this file; give a video file (mp4, mov, mkv, ...)")
    return container.streams.video[0]


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Stream facts of a video file. Frame count comes from the container, or from counting packets."""
    path = Path(path)
    with _open(path) as container:
        video = _video_stream(container, path)
        rate = video.average_rate or video.guessed_rate or video.base_rate
        fps = float(rate) if rate else 0.0
        num_frames = int(video.frames)
        if num_frames <= 0:  # some containers (mkv, webm) do not store it: count packets, no decoding
            try:
                num_frames = sum(1 for p in container.demux(video) if p.size > 0)
            except av.error.FFmpegError as exc:
                raise MediaError(f"{path}: the file is truncated or corrupt ({exc}); re-export the video") from exc
        if video.duration is not None and video.time_base is not None:
            duration = float(video.duration * video.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = num_frames / fps if fps else 0.0
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_duration = 0.0
        if audio is not None and audio.duration is not None and audio.time_base is not None:
            audio_duration = float(audio.duration * audio.time_base)
        return VideoInfo(
            path=path,
            fps=fps,
            num_frames=num_frames,
            width=int(video.codec_context.width),
            height=int(video.codec_context.height),
            duration_s=duration,
            has_audio=audio is not None,
            audio_rate=int(audio.codec_context.sample_rate) if audio is not None else 0,
            audio_duration_s=audio_duration,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else "",
        )


def iter_frames(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Decoded frames of the first video stream, one at a time: uint8 [H, W, 3] RGB."""
    path = Path(path)
    with _open(path) as container:
        video = _video_stream(container, path)
        video.thread_type = "AUTO"
        try:
            for frame in container.decode(video):
                yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: video stream is corrupt ({exc}); re-encode or re-export the file") from exc


def read_audio(path: str | os.PathLike[str], sample_rate: int = 16000) -> np.ndarray:
    """The first audio stream, mixed to mono and resampled with PyAV's AudioResampler: float32 [N] at sample_rate."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: no audio stream; give a video with sound, or pass the audio separately")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                frame.pts = None  # let the resampler count samples; source timestamps may jump
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: audio stream is corrupt ({exc}); re-encode the file") from exc
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        return np.zeros(0, np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def _even(image: np.ndarray) -> np.ndarray:
    """Pad [H, W, 3] by edge replication to even H and W (yuv420p needs them)."""
    h, w = image.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return image
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    crf: int = 18,
    preset: str = "veryfast",
    audio_bitrate: int = 96000,
    lossless: bool = False,
) -> Path:
    """Encode an mp4: h264 (yuv420p; odd sizes padded to even) and, when `audio` is given, an AAC track.

    lossless=True writes libx264rgb at crf 0 (rgb24, no padding): frames decode back bit-exact (e.g. a
    ground-truth video for `talkzoo evaluate`, where lossy h264 would give a finite PSNR).

    frames: iterable of uint8 [H, W, 3] RGB, all the same size. audio: float32 [N] mono in [-1, 1] at
    `sample_rate` (interleaved with the video as it is written). Returns the path. Raises MediaError when
    there are no frames or sizes change.
    """
    path = Path(path)
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise MediaError(f"{path}: no frames to write")
    pad = (lambda image: image) if lossless else _even
    first = pad(np.asarray(first))
    height, width = first.shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", format="mp4") as container:
        vstream = container.add_stream("libx264rgb" if lossless else "libx264", rate=rate)
        vstream.width, vstream.height = width, height
        vstream.pix_fmt = "rgb24" if lossless else "yuv420p"
        vstream.options = {"crf": "0" if lossless else str(crf), "preset": preset}
        vstream.thread_type = "AUTO"
        astream = None
        wave = None
        if audio is not None:
            wave = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
            astream = container.add_stream("aac", rate=sample_rate, layout="mono")
            astream.bit_rate = audio_bitrate
        audio_pos = 0
        for index, image in enumerate(chain([first], iterator)):
            image = pad(np.asarray(image, dtype=np.uint8))
            if image.shape[:2] != (height, width):
                raise MediaError(
                    f"{path}: frame {index} is {image.shape[1]}x{image.shape[0]}, expected {width}x{height}"
                )
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[..., :3]), format="rgb24")
            frame.pts = index
            container.mux(vstream.encode(frame))
            if astream is not None and wave is not None:
                until = min(len(wave), int(round((index + 1) / float(rate) * sample_rate)))
                audio_pos = _write_audio(container, astream, wave, audio_pos, until, sample_rate)
        container.mux(vstream.encode(None))
        if astream is not None and wave is not None:
            _write_audio(container, astream, wave, audio_pos, len(wave), sample_rate)
            container.mux(astream.encode(None))
    return path


def _write_audio(
    container: av.container.OutputContainer,
    stream: av.audio.stream.AudioStream,
    wave: np.ndarray,
    start: int,
    stop: int,
    sample_rate: int,
) -> int:
    """Encode wave[start:stop] (float32 [N]) in AAC-sized chunks; returns the new position (a chunk boundary)."""
    pos = start
    while stop - pos >= AUDIO_CHUNK or (stop == len(wave) and pos < stop):
        chunk = wave[pos : min(pos + AUDIO_CHUNK, stop)]
        frame = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = pos
        container.mux(stream.encode(frame))
        pos += len(chunk)
    return pos

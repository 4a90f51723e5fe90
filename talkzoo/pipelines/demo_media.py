"""The media of an avatar run beyond the models (`talkzoo avatar`, `talkzoo demo`): the held-out audio, the baseline
videos (the mean train frame, the reference image), the side-by-side video (ground truth | each method), the frame
grid, and the mouth-opening and sync plots. The curves come from `talkzoo evaluate` (evaluate_video(series=True)):
one measurement per concept."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from talkzoo.datamodules.resize import resize_image

LABEL_HEIGHT = 18


def write_heldout_audio(speaker: Path, out: Path) -> tuple[Path, np.ndarray]:
    """The speaker's val-split audio (never trained on) as a 16-bit wav at `out`; returns (path, frame indices)."""
    from scipy.io import wavfile

    from talkzoo.datamodules.speaker import Speaker

    spk = Speaker(speaker)
    frames = spk.split_indices("val")
    sr, fps = spk.meta.sample_rate, spk.meta.fps
    first, last = int(round(frames[0] * sr / fps)), int(round((frames[-1] + 1) * sr / fps))
    wave = np.asarray(spk.audio()[first:last], dtype=np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(out, sr, (np.clip(wave, -1, 1) * 32767).astype(np.int16))
    return out, frames


def _label(image: np.ndarray, text: str) -> np.ndarray:
    """A white strip with `text` above the image: [H, W, 3] → [H + LABEL_HEIGHT, W, 3]."""
    strip = np.full((LABEL_HEIGHT, image.shape[1], 3), 255, dtype=np.uint8)
    cv2.putText(strip, text, (3, LABEL_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([strip, image], axis=0)


def side_by_side_frames(
    columns: Sequence[tuple[str, Iterator[np.ndarray]]], count: int, size: int
) -> Iterator[np.ndarray]:
    """Frames of several sources next to each other, each resized to size² under its label → uint8 [H, W·k, 3]."""
    for _ in range(count):
        tiles = []
        for name, frames in columns:
            frame = next(frames, None)
            tile = resize_image(frame, size, size) if frame is not None else np.zeros((size, size, 3), np.uint8)
            tiles.append(_label(tile, name))
        yield np.concatenate(tiles, axis=1)


def write_side_by_side(
    out: Path, sources: dict[str, Path], speaker: Path, frames: np.ndarray, audio: Path, size: int
) -> Path:
    """ground truth (the speaker's frames) | each generated video → one mp4 with the held-out audio."""
    from talkzoo.datamodules.media import iter_frames, read_audio, write_video
    from talkzoo.datamodules.speaker import Speaker

    spk = Speaker(speaker)
    truth = (spk.frame(int(i)) for i in frames)
    columns = [("ground truth", truth)] + [(name, iter_frames(path)) for name, path in sources.items()]
    wave = read_audio(audio, 16000)
    return write_video(out, side_by_side_frames(columns, len(frames), size), spk.meta.fps, wave, 16000)


def frame_grid(video: Path, times: Sequence[int], out: Path) -> Path:
    """Rows = the side-by-side video's frames at `times` (frame indices) → a PNG."""
    from talkzoo.datamodules.media import iter_frames

    wanted, rows = set(times), []
    for index, frame in enumerate(iter_frames(video)):
        if index in wanted:
            rows.append(frame)
        if len(rows) == len(wanted):
            break
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    return out


def mouth_opening_plot(series: dict[str, np.ndarray], energy: np.ndarray, fps: float, out: Path) -> Path:
    """Mouth opening (px, MediaPipe; `talkzoo evaluate`'s series) of each source over time, with the speech energy
    underneath → a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 3.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    for name, values in series.items():
        top.plot(np.arange(len(values)) / fps, values, label=name, linewidth=1.4 if name == "ground truth" else 1.0)
    top.set_ylabel("mouth opening (px)")
    top.legend(loc="upper right", fontsize=8, ncol=len(series))
    bottom.plot(np.arange(len(energy)) / fps, energy, color="0.3", linewidth=0.8)
    bottom.set_ylabel("speech\nenergy")
    bottom.set_xlabel("held-out audio (s)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def sync_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], lead: int, out: Path) -> Path:
    """Correlation of each video's mouth opening with the speech energy per offset (frames; `talkzoo evaluate`'s
    sync curves, raw lag + lead, so 0 = in sync) → a PNG. curves: name → (lags, correlations)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 2.8))
    for name, (lags, corr) in curves.items():
        ax.plot(np.asarray(lags) + lead, corr, marker=".", label=name, linewidth=1.4 if name == "ground truth" else 1)
    ax.axvline(0, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_xlabel("offset (frames; > 0: the video shows a sound after it is heard)")
    ax.set_ylabel("mouth ↔ speech\ncorrelation")
    ax.legend(loc="upper right", fontsize=8, ncol=min(4, len(curves)))
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def baseline_frames(speaker: Path) -> dict[str, np.ndarray]:
    """The trivial predictions every method must beat: "mean train frame" (the mean of the train split's frames)
    and "reference image" (train frame 0, what MODA's renderer starts from) → uint8 [H, W, 3] each."""
    from talkzoo.datamodules.speaker import Speaker

    spk = Speaker(speaker)
    train = spk.split_indices("train")
    total = np.zeros((spk.meta.height, spk.meta.width, 3), np.float64)
    for index in train:
        total += spk.frame(int(index))
    mean = np.clip(np.round(total / max(len(train), 1)), 0, 255).astype(np.uint8)
    return {"mean train frame": mean, "reference image": spk.frame(int(train[0]))}


def write_still_video(out: Path, image: np.ndarray, count: int, fps: float, audio: Path) -> Path:
    """`image` held for `count` frames, with the audio → an mp4 (a baseline scored like any generated video)."""
    from talkzoo.datamodules.media import read_audio, write_video

    wave = read_audio(audio, 16000)
    return write_video(out, (image for _ in range(count)), fps, wave, 16000)

"""`talkzoo validate SPEAKER`: every consistency check of the speaker format in one place.

Each problem is one line naming the file, what is wrong (with both numbers where there are two) and the fix.
DataModules call `require_valid` at their boundary, so a broken folder never trains silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from talkzoo.datamodules.speaker import (
    ARRAYS,
    IMAGE_DIRS,
    PARSING_LABELS,
    Speaker,
    SpeakerFormatError,
    frame_name,
    read_image,
)

EXPECTED_SAMPLE_RATE = 16000
# Images opened per folder to check size and content (every file's existence is always checked).
IMAGES_SAMPLED = 5


@dataclass
class ValidationReport:
    """Result of `validate_speaker`: problems (empty when valid) and a printable summary."""

    root: Path
    problems: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format_summary(self) -> str:
        width = max((len(k) for k in self.summary), default=0)
        return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in self.summary.items())


def validate_speaker(root: str | Path) -> ValidationReport:
    """Check a speaker folder against the format; never raises for a bad folder, reports instead."""
    report = ValidationReport(Path(root))
    try:
        speaker = Speaker(root)
    except SpeakerFormatError as exc:
        report.problems.append(str(exc))
        return report
    _check_meta(speaker, report)
    if speaker.meta.num_frames <= 0:
        return report
    _check_audio(speaker, report)
    _check_arrays(speaker, report)
    _check_images(speaker, report)
    _check_features(speaker, report)
    _check_provenance(speaker, report)
    return report


def require_valid(root: str | Path) -> Speaker:
    """The speaker at `root`, or SpeakerFormatError listing every problem (one per line)."""
    report = validate_speaker(root)
    if not report.ok:
        lines = "\n".join(f"  - {p}" for p in report.problems)
        raise SpeakerFormatError(f"{root}: {len(report.problems)} problem(s) in the speaker folder:\n{lines}")
    return Speaker(root)


def _check_meta(speaker: Speaker, report: ValidationReport) -> None:
    m, path = speaker.meta, speaker.root / "speaker.json"
    report.summary.update(
        name=speaker.name,
        frames=m.num_frames,
        fps=m.fps,
        duration=f"{m.num_frames / m.fps:.2f} s" if m.fps > 0 else "?",
        size=f"{m.width}x{m.height}",
        intrinsics=f"focal {m.focal:.1f}, cx {m.cx:.1f}, cy {m.cy:.1f}",
        split=f"train {m.val_start} frames, val {m.num_frames - m.val_start} frames",
    )
    if m.num_frames <= 0:
        report.problems.append(f"{path}: the speaker is empty (num_frames={m.num_frames}); re-run preprocessing")
    if m.fps <= 0:
        report.problems.append(f"{path}: fps must be positive, got {m.fps}")
    if m.sample_rate != EXPECTED_SAMPLE_RATE:
        report.problems.append(
            f"{path}: sample_rate is {m.sample_rate} Hz, the format requires {EXPECTED_SAMPLE_RATE} Hz; "
            "re-run preprocessing to resample the audio"
        )
    if m.width <= 0 or m.height <= 0:
        report.problems.append(f"{path}: image size {m.width}x{m.height} is not positive")
    if m.focal <= 0 or not (0 <= m.cx <= m.width) or not (0 <= m.cy <= m.height):
        report.problems.append(
            f"{path}: intrinsics focal={m.focal}, cx={m.cx}, cy={m.cy} do not fit a {m.width}x{m.height} image"
        )
    if m.num_frames > 0 and not (0 < m.val_start < m.num_frames):
        report.problems.append(
            f"{path}: val_start={m.val_start} leaves an empty split for {m.num_frames} frames; "
            "it must be between 1 and num_frames-1"
        )


def _check_audio(speaker: Speaker, report: ValidationReport) -> None:
    path, m = speaker.root / "audio.wav", speaker.meta
    if not path.is_file():
        report.problems.append(f"{path}: missing; re-run the audio step of preprocessing")
        return
    import soundfile as sf  # imported on use (the GPU checks' machine has no libsndfile unless the kit brings it)

    try:
        info = sf.info(str(path))
    except RuntimeError as exc:
        report.problems.append(f"{path}: unreadable audio ({exc}); re-run preprocessing")
        return
    if info.samplerate != m.sample_rate:
        report.problems.append(
            f"{path}: sample rate {info.samplerate} Hz but speaker.json says {m.sample_rate} Hz; re-run preprocessing"
        )
    if info.channels != 1:
        report.problems.append(f"{path}: {info.channels} channels, the format requires mono")
    expected = m.num_frames * info.samplerate / m.fps
    frames_off = abs(info.frames - expected) / (info.samplerate / m.fps)
    report.summary["audio"] = f"{info.frames / info.samplerate:.2f} s at {info.samplerate} Hz"
    if frames_off > 1.0:
        report.problems.append(
            f"{path}: {info.frames} samples = {info.frames / (info.samplerate / m.fps):.1f} frames, "
            f"but the video has {m.num_frames} frames; audio and video must match to ±1 frame"
        )


def _check_arrays(speaker: Speaker, report: ValidationReport) -> None:
    t = speaker.meta.num_frames
    for name, (shape, dtype) in ARRAYS.items():
        path = speaker.root / f"{name}.npy"
        if not path.is_file():
            report.problems.append(f"{path}: missing; re-run the preprocessing step that writes it")
            continue
        try:
            array = np.load(path, mmap_mode="r")
        except (ValueError, OSError) as exc:
            report.problems.append(f"{path}: unreadable ({exc}); re-run preprocessing")
            continue
        if array.shape[:1] != (t,):
            count = array.shape[0] if array.ndim else "no"
            report.problems.append(f"{path}: {count} frames, speaker.json says {t}")
            continue
        if array.shape[1:] != shape:
            report.problems.append(f"{path}: per-frame shape {array.shape[1:]}, expected {shape}")
            continue
        if array.dtype != np.dtype(dtype):
            report.problems.append(f"{path}: dtype {array.dtype}, expected {np.dtype(dtype)}")
            continue
        if array.dtype.kind == "f":
            bad = ~np.isfinite(array).reshape(t, -1).all(axis=1)
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                report.problems.append(f"{path}: NaN or infinite values in {int(bad.sum())} frame(s), first at {first}")
                continue
        _check_array_values(name, path, np.asarray(array), report)


def _check_array_values(name: str, path: Path, array: np.ndarray, report: ValidationReport) -> None:
    if name == "blink" and (array.min() < 0 or array.max() > 1):
        report.problems.append(f"{path}: values in [{array.min():.3f}, {array.max():.3f}], expected [0, 1]")
    elif name == "pose":
        bottom = np.abs(array[:, 3] - np.array([0, 0, 0, 1], dtype=array.dtype)).max()
        rot = array[:, :3, :3]
        scale = np.cbrt(np.linalg.det(rot))
        if bottom > 1e-4 or (scale <= 0).any():
            report.problems.append(f"{path}: not rigid transforms (bottom row or determinant wrong)")
            return
        unit = rot / scale[:, None, None]
        orth = np.abs(unit @ unit.transpose(0, 2, 1) - np.eye(3)).max()
        if orth > 1e-3:
            report.problems.append(f"{path}: rotation blocks are not orthonormal (error {orth:.2e})")
    elif name == "detected":
        report.summary["face detected"] = f"{100.0 * array.mean():.1f}% of frames"


def _check_images(speaker: Speaker, report: ValidationReport) -> None:
    m = speaker.meta
    for folder, ext in IMAGE_DIRS.items():
        directory = speaker.root / folder
        if not directory.is_dir():
            report.problems.append(f"{directory}/: missing folder; re-run the preprocessing step that writes it")
            continue
        present = {p.name for p in directory.iterdir() if p.suffix == ext}
        missing = [i for i in range(m.num_frames) if frame_name(i, ext) not in present]
        extra = len(present) - (m.num_frames - len(missing))
        if missing:
            report.problems.append(
                f"{directory}/: {m.num_frames - len(missing)} of {m.num_frames} frames present, "
                f"first missing {frame_name(missing[0], ext)}"
            )
            continue
        if extra:
            report.problems.append(f"{directory}/: {extra} file(s) beyond the {m.num_frames} frames of speaker.json")
        if not _check_headers(directory, ext, folder, m.num_frames, m.width, m.height, report):
            continue
        for index in np.linspace(0, m.num_frames - 1, min(IMAGES_SAMPLED, m.num_frames)).astype(int):
            if not _check_image(directory / frame_name(int(index), ext), folder, m.width, m.height, report):
                break
    _check_image(speaker.root / "background.png", "background", m.width, m.height, report)


_CHANNELS = {"frames": 3, "parsing": 0, "torso": 4, "background": 3}
_PIL_MODES = {"frames": "RGB", "parsing": "L", "torso": "RGBA", "background": "RGB"}


def _check_headers(
    directory: Path, ext: str, kind: str, count: int, width: int, height: int, report: ValidationReport
) -> bool:
    """Size and mode of every image from its header alone (cheap even for 10,000 frames)."""
    for index in range(count):
        path = directory / frame_name(index, ext)
        try:
            with Image.open(path) as image:
                size, mode = image.size, image.mode
        except (OSError, ValueError) as exc:
            report.problems.append(f"{path}: unreadable image ({exc}); re-run the step that writes {directory.name}/")
            return False
        if size != (width, height) or mode != _PIL_MODES[kind]:
            report.problems.append(
                f"{path}: {size[0]}x{size[1]} {mode}, expected {width}x{height} {_PIL_MODES[kind]}; "
                f"re-run the step that writes {directory.name}/"
            )
            return False
    return True


def _check_image(path: Path, kind: str, width: int, height: int, report: ValidationReport) -> bool:
    try:
        image = read_image(path)
    except SpeakerFormatError as exc:
        report.problems.append(str(exc))
        return False
    channels = image.shape[2] if image.ndim == 3 else 0
    if image.shape[:2] != (height, width) or channels != _CHANNELS[kind]:
        report.problems.append(
            f"{path}: {image.shape[1]}x{image.shape[0]} with {channels or 1} channel(s), "
            f"expected {width}x{height} with {_CHANNELS[kind] or 1}"
        )
        return False
    if kind == "parsing" and image.max() > max(PARSING_LABELS.values()):
        report.problems.append(f"{path}: label {image.max()} outside 0..{max(PARSING_LABELS.values())}")
        return False
    return True


def _check_features(speaker: Speaker, report: ValidationReport) -> None:
    m = speaker.meta
    names = speaker.feature_names()
    report.summary["features"] = ", ".join(names) or "none"
    for name in names:
        path = speaker.root / "features" / f"{name}.npy"
        info_path = path.with_suffix(".json")
        if not info_path.is_file():
            report.problems.append(f"{info_path}: missing (rate_hz, dim, extractor); re-extract feature {name!r}")
            continue
        try:
            info = json.loads(info_path.read_text())
            values = np.load(path, mmap_mode="r")
        except (ValueError, OSError) as exc:
            report.problems.append(f"{path}: unreadable ({exc}); re-extract feature {name!r}")
            continue
        rate = float(info.get("rate_hz", 0))
        if values.ndim != 2 or rate <= 0 or values.shape[1] != info.get("dim"):
            report.problems.append(
                f"{path}: shape {values.shape} with rate_hz={rate} and dim={info.get('dim')} in {info_path.name}; "
                f"re-extract feature {name!r}"
            )
            continue
        covered = values.shape[0] / rate * m.fps
        if abs(covered - m.num_frames) > max(1.0, m.fps / rate):
            report.problems.append(
                f"{path}: {values.shape[0]} steps at {rate:g} Hz cover {covered:.1f} frames, "
                f"the video has {m.num_frames}; re-extract feature {name!r}"
            )
        elif not np.isfinite(values).all():
            report.problems.append(f"{path}: NaN or infinite values; re-extract feature {name!r}")


def _check_provenance(speaker: Speaker, report: ValidationReport) -> None:
    unfinished = [step for step, record in speaker.meta.provenance.items() if not record.get("done", False)]
    if unfinished:
        report.problems.append(
            f"{speaker.root / 'speaker.json'}: step(s) {', '.join(unfinished)} did not finish; "
            "re-run the same command to resume"
        )

"""The preprocessing steps, in order. Each reads what earlier steps left (in the speaker folder or its .work/
folder) and returns the parameters recorded in speaker.json provenance when it completes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from talkzoo.datamodules.media import MediaError, VideoInfo, read_audio
from talkzoo.datamodules.preprocess.background import BackgroundAccumulator
from talkzoo.datamodules.preprocess.blink import blink_signal
from talkzoo.datamodules.preprocess.config import PreprocessConfig
from talkzoo.datamodules.preprocess.decode import CropBox
from talkzoo.datamodules.preprocess.errors import PreprocessError
from talkzoo.datamodules.preprocess.features import extract_features
from talkzoo.datamodules.preprocess.frame_pass import run_frame_pass
from talkzoo.datamodules.preprocess.landmarks import check_face_coverage, fill_missing, jitter, smooth
from talkzoo.datamodules.preprocess.pose import estimate_pose
from talkzoo.datamodules.preprocess.probe import check_av_lengths
from talkzoo.datamodules.preprocess.shoulders import fill_shoulders, lift_shoulders
from talkzoo.datamodules.speaker import Speaker, SpeakerWriter

WORK = ".work"


@dataclass
class Run:
    """One preprocessing run: the input, the config, the writer of the output folder and the notes for the user."""

    video: Path
    info: VideoInfo
    cfg: PreprocessConfig
    writer: SpeakerWriter
    crop: CropBox
    max_faces: int
    progress: bool
    notes: list[str] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.writer.root

    @property
    def work(self) -> Path:
        path = self.root / WORK
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def num_frames(self) -> int:
        return self.writer.meta.num_frames


def step_audio(run: Run) -> dict[str, Any]:
    """audio.wav: 16 kHz mono, trimmed / padded with silence to T frames."""
    try:
        wave = read_audio(run.video, run.writer.meta.sample_rate)
    except MediaError as exc:
        raise PreprocessError(str(exc)) from exc
    rate, fps = run.writer.meta.sample_rate, run.writer.meta.fps
    check_av_lengths(run.video, run.num_frames / fps, len(wave) / rate, run.cfg)
    target = int(round(run.num_frames / fps * rate))
    padded = np.zeros(target, np.float32)
    padded[: min(target, len(wave))] = wave[:target]
    run.writer.write_audio(padded)
    return {"source_samples": len(wave), "samples": target, "source_rate": run.info.audio_rate}


def step_frames(run: Run) -> dict[str, Any]:
    """frames/, parsing/, torso/ and the raw tracks (.work/) in one streaming pass."""
    res = run_frame_pass(run.video, run.root, run.num_frames, run.crop, run.cfg, run.max_faces, run.progress)
    np.save(run.work / "landmarks_raw.npy", res.landmarks)
    np.save(run.work / "shoulders_2d.npy", res.shoulders)
    res.background.save(run.work)
    return {"detected_fraction": float(res.detected.mean()), "max_faces": run.max_faces}


def step_landmarks(run: Run) -> dict[str, Any]:
    """landmarks.npy (interpolated where the face was lost, smoothed) and detected.npy."""
    raw = np.load(run.work / "landmarks_raw.npy")
    detected = np.isfinite(raw[:, 0, 0])
    check_face_coverage(detected, run.cfg.fps, run.cfg.max_lost_seconds, run.cfg.max_lost_fraction, run.video)
    filled = fill_missing(raw, detected)
    smoothed = smooth(filled, run.cfg.smooth_window)
    run.writer.write_array("landmarks", smoothed)
    run.writer.write_array("detected", detected)
    return {
        "window": run.cfg.smooth_window,
        "jitter_raw_px": jitter(filled[:, :, :2]),
        "jitter_smoothed_px": jitter(smoothed[:, :, :2]),
        "interpolated_frames": int((~detected).sum()),
    }


def step_pose(run: Run) -> dict[str, Any]:
    """pose.npy and canonical.npy from the landmarks (similarity alignment to the speaker's mean shape)."""
    speaker = Speaker(run.root)
    m = speaker.meta
    landmarks, detected = np.asarray(speaker.landmarks), np.asarray(speaker.detected)
    result = estimate_pose(landmarks, detected, m.focal, m.cx, m.cy, run.cfg.pose_window)
    run.writer.write_array("pose", result.pose)
    run.writer.write_array("canonical", result.canonical)
    return {
        "window": run.cfg.pose_window,
        "rigid_points": len(result.rigid),
        "mean_depth": float(result.pose[:, 2, 3].mean()),
    }


def step_blink(run: Run) -> dict[str, Any]:
    """blink.npy from the canonical eyelids."""
    blink = blink_signal(np.asarray(Speaker(run.root).canonical))
    run.writer.write_array("blink", blink)
    return {"mean": float(blink.mean())}


def step_shoulders(run: Run) -> dict[str, Any]:
    """shoulders.npy: the shoulder contours as a billboard in the head frame."""
    m = run.writer.meta
    points = fill_shoulders(np.load(run.work / "shoulders_2d.npy"), m.width, run.cfg.pose_window)
    lifted = lift_shoulders(points, np.asarray(Speaker(run.root).pose), m.focal, m.cx, m.cy)
    run.writer.write_array("shoulders", lifted)
    return {}


def step_background(run: Run) -> dict[str, Any]:
    """background.png from the background sums of the frame pass."""
    run.writer.write_background(BackgroundAccumulator.plate_from(run.work))
    return {}


def step_features(run: Run) -> dict[str, Any]:
    """features/NAME.npy for the requested extractors (mel always)."""
    wave = Speaker(run.root).audio()
    written, notes = extract_features(run.writer, wave, run.cfg.features, run.cfg.models)
    run.notes.extend(notes)
    return {"written": written, "requested": list(run.cfg.features)}


STEPS: dict[str, Callable[[Run], dict[str, Any]]] = {
    "audio": step_audio,
    "frames": step_frames,
    "landmarks": step_landmarks,
    "pose": step_pose,
    "blink": step_blink,
    "shoulders": step_shoulders,
    "background": step_background,
    "features": step_features,
}

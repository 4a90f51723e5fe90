"""`preprocess(VIDEO, OUT)`: the resumable step runner from a raw talking video to a validated speaker folder.

speaker.json is written first with every step pending (so an unfinished folder never validates); each step
records {"done": true, params, versions} when it completes, and a re-run skips the completed steps.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from talkzoo.datamodules.media import VideoInfo
from talkzoo.datamodules.preprocess.config import PreprocessConfig
from talkzoo.datamodules.preprocess.crop import choose_crop, track_faces
from talkzoo.datamodules.preprocess.decode import CropBox
from talkzoo.datamodules.preprocess.errors import PreprocessError
from talkzoo.datamodules.preprocess.probe import check_video, num_output_frames
from talkzoo.datamodules.preprocess.steps import STEPS, WORK, Run
from talkzoo.datamodules.speaker import Speaker, SpeakerFormatError, SpeakerMeta, SpeakerWriter
from talkzoo.zoo.face.mediapipe_models import mediapipe_version

SOURCE = "source"  # provenance entry describing the input video and the config
CROP = "crop"
# Config fields that may change between a run and its resumption (they do not change finished outputs).
RESUMABLE_FIELDS = ("workers", "features", "models")


@dataclass
class PreprocessResult:
    """What a run did: the speaker folder, steps run and skipped, seconds per step, notes for the user."""

    root: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _versions() -> dict[str, str]:
    return {
        "mediapipe": mediapipe_version(),
        "av": av.__version__,
        "opencv": cv2.__version__,
        "numpy": np.__version__,
    }


def _fixed_config(cfg: PreprocessConfig) -> dict[str, Any]:
    return {k: v for k, v in cfg.to_json().items() if k not in RESUMABLE_FIELDS}


def _previous(root: Path, video: Path, cfg: PreprocessConfig) -> dict[str, Any] | None:
    """The provenance of an earlier run into `root` (None if there is none); refuses a different video or config."""
    if not (root / "speaker.json").exists():
        return None
    try:
        meta = Speaker(root).meta
    except SpeakerFormatError as exc:
        raise PreprocessError(
            f"{root}: holds something that is not a preprocess run ({exc}); choose another folder"
        ) from exc
    source = meta.provenance.get(SOURCE, {}).get("params")
    if not source:
        raise PreprocessError(f"{root}: holds a speaker not made by `talkzoo preprocess`; choose another output folder")
    # folders written before these options existed: landmarks detected at the output size, the default split
    stored = {"landmark_size": 0, "val_seconds": None, **(source.get("config") or {})}
    if source.get("video") != str(video.resolve()) or stored != _fixed_config(cfg):
        raise PreprocessError(
            f"{root}: holds a run of {source.get('video')} with other settings; delete the folder or choose another "
            "one (a re-run with the same video and options resumes)"
        )
    return meta.provenance


def _start(
    video: Path, root: Path, info: VideoInfo, cfg: PreprocessConfig, progress: bool
) -> tuple[SpeakerWriter, list[str]]:
    """Track the face, choose the crop, then create the folder with every step pending."""
    num_frames = num_output_frames(info, cfg.fps)
    first_val = val_start(num_frames, cfg, video)
    track = track_faces(video, info, progress)
    crop = choose_crop(video, info, track, cfg)
    half = cfg.size / 2
    meta = SpeakerMeta(cfg.size, cfg.size, num_frames, focal=cfg.focal, cx=half, cy=half, fps=cfg.fps,
                       val_start=first_val)  # fmt: skip
    meta.provenance = {
        SOURCE: {
            "done": True,
            "params": {"video": str(video.resolve()), "info": info.to_json(), "config": _fixed_config(cfg)},
            "versions": _versions(),
        },
        CROP: {
            "done": True,
            "params": {**crop.to_json(), "several_faces": track.several > 0, "samples": len(track.times)},
            "versions": {},
        },
        **{step: {"done": False, "params": {}, "versions": {}} for step in STEPS},
    }
    return SpeakerWriter(root, meta, exist_ok=False), track.notes


def val_start(num_frames: int, cfg: PreprocessConfig, video: Path) -> int:
    """The first held-out frame: the last cfg.val_seconds of the video (−1: the format's default, the last 1/11);
    PreprocessError when fewer than cfg.min_seconds would be left to train on."""
    if cfg.val_seconds is None:
        return -1
    held_out = int(round(cfg.val_seconds * cfg.fps))
    train = num_frames - held_out
    if held_out < 1 or train < cfg.min_seconds * cfg.fps:
        raise PreprocessError(
            f"{video}: holding out {cfg.val_seconds:g} s of a {num_frames / cfg.fps:.1f} s video leaves "
            f"{max(train, 0) / cfg.fps:.1f} s to train on (need ≥ {cfg.min_seconds:g} s); use a smaller --val-seconds "
            "or a longer video"
        )
    return train


def preprocess(
    video: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: PreprocessConfig | None = None,
    progress: bool = True,
    log: bool = True,
) -> PreprocessResult:
    """Turn a talking-head video into a speaker folder at `out` (resumable; see the module docstring).

    Raises PreprocessError (a UserError: one line, non-zero exit in the CLI) for every bad input.
    """
    cfg = config or PreprocessConfig()
    video, root = Path(video), Path(out)
    info = check_video(video, cfg)
    previous = _previous(root, video, cfg)
    result = PreprocessResult(root)
    if previous is None:
        writer, notes = _start(video, root, info, cfg, progress)
        result.notes += notes
    else:
        writer = SpeakerWriter(root, Speaker(root).meta)
        if writer.meta.provenance.get("features", {}).get("params", {}).get("requested") != list(cfg.features):
            writer.meta.provenance["features"] = {"done": False, "params": {}, "versions": {}}
    crop_params = writer.meta.provenance[CROP]["params"]
    crop = CropBox(crop_params["x0"], crop_params["y0"], crop_params["side"])
    run = Run(video, info, cfg, writer, crop, 2 if crop_params.get("several_faces") else 1, progress, result.notes)
    for note in result.notes:
        _say(log, f"note: {note}")
    printed = len(result.notes)
    for step, fn in STEPS.items():
        if writer.is_done(step):
            result.skipped.append(step)
            continue
        start = time.perf_counter()
        params = fn(run)
        writer.mark_done(step, params, _versions() if step == "frames" else {})
        result.seconds[step] = time.perf_counter() - start
        result.ran.append(step)
        _say(log, f"preprocess: {step} done in {result.seconds[step]:.1f} s")
    for note in result.notes[printed:]:
        _say(log, f"note: {note}")
    shutil.rmtree(root / WORK, ignore_errors=True)
    return result


def _say(enabled: bool, line: str) -> None:
    if enabled:
        print(line, file=sys.stderr, flush=True)

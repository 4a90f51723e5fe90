"""What the 3-D methods' Avatars share (ER-NeRF, TalkingGaussian): a head pose + blink per frame from a motion source
(talkzoo.avatars.motion) and, per frame, a context of audio-feature windows centred on it, as the networks were
trained (`audio_window` feature rows per frame, `audio_context` frames around it).

`pose_source` builds the motion source an Avatar option names; `PosedAudioAvatar` streams both inputs and knows when a
frame is computable. A subclass loads its networks, sets `self.audio` (a StreamAudio), `self.poses`, `self.window`
and `self.context` (`_setup_posed`), and implements `_render`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkzoo.datamodules.boundary import open_speaker
from talkzoo.lightning_modules.moda import MODA
from talkzoo.zoo.errors import UserError

from .audio import StreamAudio
from .base import Avatar
from .moda import load_moda_stage, speaker_index, stage_checkpoint
from .moda_motion import MotionStream
from .motion import ModaMotion, PoseSource, TrainingReplay

MOTIONS = ("auto", "moda", "training")


def motion_options(options: dict[str, Any]) -> tuple[str, float, dict[str, int]]:
    """Pops the shared motion options from an Avatar's `options`: (motion, smooth σ in frames, MODA's windows
    {stride, context, lookahead} from moda_stride / moda_context / moda_lookahead); a bad motion is a UserError."""
    motion = str(options.pop("motion", "auto"))
    smooth = float(options.pop("smooth", 2.0))
    windows = {k: int(options.pop(f"moda_{k}")) for k in ("stride", "context", "lookahead") if f"moda_{k}" in options}
    if motion not in MOTIONS:
        raise UserError(f"motion {motion!r}: choose one of {', '.join(MOTIONS)}")
    return motion, smooth, windows


def pose_source(
    runs: Path, speaker: Path, motion: str, smooth: float, device: torch.device, moda_windows: dict[str, int]
) -> PoseSource:
    """The head pose + blink stream: MODA's motion of the audio ("moda", needs RUNS/moda), the training poses replayed
    ("training"), or "auto" (moda when RUNS/moda exists)."""
    spk = open_speaker(str(speaker))
    train = spk.split_indices("train")
    if motion == "auto":
        motion = "moda" if stage_checkpoint(runs, "moda").is_file() else "training"
    if motion == "training":
        return TrainingReplay(spk.pose, spk.blink, train, smooth)
    moda = load_moda_stage(runs, "moda", MODA, device)
    index = speaker_index([s.speaker for s in moda.speaker_stats], spk.name, "MODA")
    waveform = moda.input_kind == "waveform"
    audio = StreamAudio(None if waveform else str(moda.hparams.feature),
                        0 if waveform else int(moda.audio_encoder.in_dim), float(spk.meta.fps),
                        keep_samples=waveform)  # fmt: skip
    stream = MotionStream(moda, index, audio, **moda_windows)
    return ModaMotion(stream, np.asarray(spk.canonical[train]), spk.blink[train], smooth)


class PosedAudioAvatar(Avatar):
    """An Avatar whose frame t needs the pose source ready at t and the audio windows of frames
    t − context//2 … t + context − 1 − context//2."""

    audio: StreamAudio
    poses: PoseSource
    window: int
    context: int

    def _setup_posed(self, data: dict[str, Any], poses: PoseSource, audio_dim: int) -> None:
        """The run's audio settings (`data`: its data.init_args) and the two input streams."""
        self.poses = poses
        self.window, self.context = int(data.get("audio_window", 16)), int(data.get("audio_context", 8))
        self.audio = StreamAudio(str(data.get("feature", "mel")), audio_dim, self.fps)

    @property
    def lookahead_frames(self) -> int | None:
        if not self.audio.streaming:
            return None
        ahead = self.context - 1 - self.context // 2  # context frames after t
        steps = self.window - 1 - self.window // 2 + 0.5  # feature rows after the last frame's centre
        audio = ahead + math.ceil((steps / self.audio.rate_hz + (self.audio.lookahead_seconds or 0)) * self.fps)
        return max(audio, self.poses.lookahead_frames + 1)

    def _reset_stream(self) -> None:
        self.audio.reset()
        self.poses.reset()

    def _feed(self, samples: np.ndarray) -> None:
        self.audio.feed(samples)
        self.poses.feed(samples)

    def _end(self) -> None:
        self.audio.end()
        self.poses.end()

    def _ready_frames(self) -> int:
        total = self._total
        self.poses.advance(self.frames_known, total)
        if total is not None:
            return total if all(self.poses.ready(t, total) for t in range(self._next, total)) else self._next
        t = self._next
        ahead = self.context - 1 - self.context // 2
        while (
            t + ahead < self.frames_known
            and self.audio.window_ready(t + ahead, self.window)
            and self.poses.ready(t, total)
        ):
            t += 1
        return t

    def _pose_inputs(self, t: int) -> dict[str, torch.Tensor]:
        """Frame t's pose [1, 4, 4], blink [1] and audio windows [1, context, window, dim] on the device."""
        pose, blink = self.poses.at(t, self._total)
        frames = t + np.arange(self.context) - self.context // 2
        windows = self.audio.frame_windows(frames, self.window, self.frames_known)
        return {
            "pose": torch.from_numpy(pose)[None].to(self.device),
            "blink": torch.tensor([blink], device=self.device),
            "audio": torch.from_numpy(windows)[None].to(self.device),
        }

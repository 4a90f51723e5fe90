"""TalkingGaussian as an Avatar: per frame, the audio windows the branches were trained on, a head pose and blink from
a motion source (talkzoo.avatars.motion), the face and inside-mouth Gaussians splatted and composited
face → mouth → (torso over the static background) (docs/talkinggaussian.md).

Stages: RUNS/tg_fuse (the refined branches) or, when only the branch stages are trained, RUNS/tg_face + RUNS/tg_mouth
composited as they are. Motion: "moda" (needs RUNS/moda), "training" (the training poses replayed, as the original's
inference) or "auto" (moda when RUNS/moda exists). The torso layer is the training frames' torso (torso.npy) replayed
ping-pong in step with the training-pose replay, as the original composites the dataset's torso images; with MODA
motion the head moves on that replayed torso.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkzoo.datamodules.boundary import open_speaker
from talkzoo.datamodules.resize import resize_image, scale_intrinsics, target_size
from talkzoo.lightning_modules.moda import MODA
from talkzoo.lightning_modules.run_loading import load_run_module
from talkzoo.lightning_modules.talkinggaussian_face import TalkingGaussianFace
from talkzoo.lightning_modules.talkinggaussian_fuse import TalkingGaussianFuse
from talkzoo.lightning_modules.talkinggaussian_mouth import TalkingGaussianMouth
from talkzoo.zoo.errors import UserError

from .audio import StreamAudio
from .base import Avatar
from .ernerf import run_data_config
from .moda import load_moda_stage, speaker_index, stage_checkpoint
from .moda_motion import MotionStream
from .motion import ModaMotion, PoseSource, TrainingReplay, mirror_indices

STAGES = {"face": "tg_face", "mouth": "tg_mouth", "fuse": "tg_fuse"}
HINTS = {
    "face": "talkzoo fit --config talkinggaussian_face [--config talkinggaussian_face_cpu]",
    "mouth": "talkzoo fit --config talkinggaussian_mouth [--config talkinggaussian_mouth_cpu]",
}
MOTIONS = ("auto", "moda", "training")


def load_portrait(runs: Path, device: torch.device) -> tuple[TalkingGaussianFuse, Path]:
    """The fused portrait module (eval) from RUNS/tg_fuse, else from RUNS/tg_face + RUNS/tg_mouth unrefined; and the
    checkpoint whose run config gives the training data settings."""
    paths = {part: stage_checkpoint(runs, stage) for part, stage in STAGES.items()}
    for part in ("face", "mouth"):
        if not paths[part].is_file():
            raise UserError(f"{paths[part]}: no TalkingGaussian {part} run; train it: {HINTS[part]} "
                            f"--trainer.default_root_dir {runs / STAGES[part]}")  # fmt: skip
    if paths["fuse"].is_file():
        overrides = {"face_checkpoint": str(paths["face"]), "mouth_checkpoint": str(paths["mouth"])}
        fuse = load_run_module(paths["fuse"], TalkingGaussianFuse, overrides, map_location=device)
        source = paths["fuse"]
    else:
        face = load_run_module(paths["face"], TalkingGaussianFace, map_location=device)
        mouth = load_run_module(paths["mouth"], TalkingGaussianMouth, map_location=device)
        fuse = TalkingGaussianFuse(face=face.branch, mouth=mouth.branch, head=face.head, val_mouth_metrics=False)
        source = paths["face"]
    return fuse.to(device).eval(), source


def pose_source(runs: Path, speaker: Path, motion: str, smooth: float, device: torch.device,
                moda_windows: dict[str, int]) -> PoseSource:  # fmt: skip
    """The head pose + blink stream: MODA's motion of the audio or the training poses replayed."""
    if motion not in MOTIONS:
        raise UserError(f"motion {motion!r}: choose one of {', '.join(MOTIONS)}")
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


class TalkingGaussianAvatar(Avatar):
    """TalkingGaussian for one speaker.

    Args (options of `load`): motion "auto" | "moda" | "training"; smooth: Gaussian σ in frames on the pose path;
    mouth_dilate: the mouth alpha's max-pool size at compositing (None: the run's); size: output (H, W) (None: the
    speaker's); moda_stride, moda_context, moda_lookahead: MODA's motion windows (talkzoo.avatars.moda_motion).
    """

    method = "talkinggaussian"

    def __init__(
        self,
        portrait: TalkingGaussianFuse,
        speaker: Path,
        data: dict[str, Any],
        poses: PoseSource,
        device: torch.device,
        size: tuple[int, int] | None = None,
        mouth_dilate: int | None = None,
    ) -> None:
        spk = open_speaker(str(speaker))
        meta = spk.meta
        native = target_size(data.get("size"), meta.height, meta.width)
        super().__init__(float(meta.fps), native, device, size if size is not None else (meta.height, meta.width))
        self.portrait, self.poses, self.speaker = portrait, poses, spk
        self.mouth_dilate = mouth_dilate
        self.window, self.context = int(data.get("audio_window", 16)), int(data.get("audio_context", 8))
        height, width = native
        intrinsics = scale_intrinsics(meta.intrinsics, width / meta.width, height / meta.height)
        self.intrinsics = torch.from_numpy(intrinsics)[None].to(device)
        background = torch.from_numpy(resize_image(spk.background(), height, width)).float().div(255)
        self.background = background.permute(2, 0, 1)[None].to(device)
        self.train = spk.split_indices("train")
        dim = int(portrait.face.motion.audio.audio_net.convs[0].in_channels)
        self.audio = StreamAudio(str(data.get("feature", "mel")), dim, self.fps)
        self.reset()

    @classmethod
    def load(
        cls, runs: Path, speaker: Path, device: str | torch.device = "cpu", **options: Any
    ) -> TalkingGaussianAvatar:
        device = torch.device(device)
        runs = Path(runs)
        motion = options.pop("motion", "auto")
        smooth = float(options.pop("smooth", 2.0))
        moda_windows = {k: options.pop(f"moda_{k}") for k in ("stride", "context", "lookahead") if f"moda_{k}" in
                        options}  # fmt: skip
        if motion not in MOTIONS:
            raise UserError(f"motion {motion!r}: choose one of {', '.join(MOTIONS)}")
        portrait, source = load_portrait(runs, device)
        poses = pose_source(runs, Path(speaker), motion, smooth, device, moda_windows)
        return cls(portrait, Path(speaker), run_data_config(source), poses, device, **options)

    @property
    def lookahead_frames(self) -> int | None:
        if not self.audio.streaming:
            return None
        ahead = self.context - 1 - self.context // 2  # context frames after t
        steps = self.window - 1 - self.window // 2 + 0.5  # feature rows after the last frame's centre
        audio = ahead + math.ceil((steps / self.audio.rate_hz + (self.audio.lookahead_seconds or 0)) * self.fps)
        return max(audio, self.poses.lookahead_frames + 1)

    # ---- the stream -----------------------------------------------------------------------------------------
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

    def torso(self, t: int) -> torch.Tensor:
        """[1, 4, H, W] RGBA torso of frame t: the training frames' torso (torso/) replayed ping-pong."""
        height, width = self.native
        frame = int(self.train[mirror_indices(len(self.train), np.array([t]))[0]])
        rgba = torch.from_numpy(resize_image(self.speaker.torso(frame), height, width)).float().div(255)
        return rgba.permute(2, 0, 1)[None].to(self.device)

    def _render(self, t: int) -> np.ndarray:
        pose, blink = self.poses.at(t, self._total)
        frames = t + np.arange(self.context) - self.context // 2
        windows = self.audio.frame_windows(frames, self.window, self.frames_known)
        batch = {
            "background": self.background,
            "torso": self.torso(t),
            "pose": torch.from_numpy(pose)[None].to(self.device),
            "intrinsics": self.intrinsics,
            "blink": torch.tensor([blink], device=self.device),
            "audio": torch.from_numpy(windows)[None].to(self.device),
        }
        image = self.portrait.render_frame(batch, self.mouth_dilate)["image"]
        return (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)

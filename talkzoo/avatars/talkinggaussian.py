"""TalkingGaussian as an Avatar: per frame, the audio windows the branches were trained on, a head pose and blink from
a motion source (talkzoo.avatars.motion), the face and inside-mouth Gaussians splatted and composited
face → mouth → (torso over the static background) (docs/talkinggaussian.md).

Stages: RUNS/talkinggaussian_fuse (the refined branches) or, when only the branch stages are trained,
RUNS/talkinggaussian_face + RUNS/talkinggaussian_mouth composited as they are. Motion: "moda" (needs RUNS/moda),
"training" (the training poses replayed, as the original's inference) or "auto" (moda when RUNS/moda exists). The
torso layer is the training frames' torso (torso.npy) replayed ping-pong in step with the training-pose replay, as
the original composites the dataset's torso images; with MODA motion the head moves on that replayed torso.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkzoo.datamodules.boundary import open_speaker
from talkzoo.datamodules.resize import resize_image, scale_intrinsics, target_size
from talkzoo.lightning_modules.run_loading import load_run_module
from talkzoo.lightning_modules.talkinggaussian_face import TalkingGaussianFace
from talkzoo.lightning_modules.talkinggaussian_fuse import TalkingGaussianFuse
from talkzoo.lightning_modules.talkinggaussian_mouth import TalkingGaussianMouth
from talkzoo.zoo.errors import UserError

from .ernerf import run_data_config
from .moda import stage_checkpoint
from .motion import PoseSource, mirror_indices
from .posed import PosedAudioAvatar, motion_options, pose_source

STAGES = {"face": "talkinggaussian_face", "mouth": "talkinggaussian_mouth", "fuse": "talkinggaussian_fuse"}
HINTS = {
    "face": "talkzoo fit --config talkinggaussian_face [--config talkinggaussian_face_cpu]",
    "mouth": "talkzoo fit --config talkinggaussian_mouth [--config talkinggaussian_mouth_cpu]",
}


def load_portrait(runs: Path, device: torch.device) -> tuple[TalkingGaussianFuse, Path]:
    """The fused portrait module (eval) from RUNS/talkinggaussian_fuse, else from RUNS/talkinggaussian_face +
    RUNS/talkinggaussian_mouth unrefined; and the checkpoint whose run config gives the training data settings."""
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


class TalkingGaussianAvatar(PosedAudioAvatar):
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
        self.portrait, self.speaker = portrait, spk
        self.mouth_dilate = mouth_dilate
        self._setup_posed(data, poses, int(portrait.face.motion.audio.audio_net.convs[0].in_channels))
        height, width = native
        intrinsics = scale_intrinsics(meta.intrinsics, width / meta.width, height / meta.height)
        self.intrinsics = torch.from_numpy(intrinsics)[None].to(device)
        background = torch.from_numpy(resize_image(spk.background(), height, width)).float().div(255)
        self.background = background.permute(2, 0, 1)[None].to(device)
        self.train = spk.split_indices("train")
        self.reset()

    @classmethod
    def load(
        cls, runs: Path, speaker: Path, device: str | torch.device = "cpu", **options: Any
    ) -> TalkingGaussianAvatar:
        device = torch.device(device)
        runs = Path(runs)
        motion, smooth, moda_windows = motion_options(options)
        portrait, source = load_portrait(runs, device)
        poses = pose_source(runs, Path(speaker), motion, smooth, device, moda_windows)
        return cls(portrait, Path(speaker), run_data_config(source), poses, device, **options)

    def torso(self, t: int) -> torch.Tensor:
        """[1, 4, H, W] RGBA torso of frame t: the training frames' torso (torso/) replayed ping-pong."""
        height, width = self.native
        frame = int(self.train[mirror_indices(len(self.train), np.array([t]))[0]])
        rgba = torch.from_numpy(resize_image(self.speaker.torso(frame), height, width)).float().div(255)
        return rgba.permute(2, 0, 1)[None].to(self.device)

    def _render(self, t: int) -> np.ndarray:
        batch = {
            "background": self.background,
            "torso": self.torso(t),
            "intrinsics": self.intrinsics,
            **self._pose_inputs(t),
        }
        image = self.portrait.render_frame(batch, self.mouth_dilate)["image"]
        return (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)

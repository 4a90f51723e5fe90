"""MODA as an Avatar: audio → motion (MotionStream) → FaCo-Net dense mesh → posed, projected condition image →
portrait renderer, one frame at a time.

Stages read from the run folder (as `talkzoo fit` and `talkzoo avatar` write them): RUNS/moda, RUNS/faconet,
RUNS/renderer (each checkpoints/last.ckpt + the run's config.yaml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkzoo.datamodules.speaker import Speaker
from talkzoo.lightning_modules.faconet import FaCoNet
from talkzoo.lightning_modules.moda import MODA
from talkzoo.lightning_modules.portrait_renderer import PortraitRenderer
from talkzoo.lightning_modules.run_loading import load_run_module
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.face_indices import EYE_INDICES, LIP_INDICES
from talkzoo.zoo.head_motion import head_motion_to_pose
from talkzoo.zoo.portrait import condition_image

from .audio import StreamAudio
from .base import Avatar
from .moda_motion import MotionStream
from .tracks import GaussianSmoother, Track

STAGE_HINTS = {
    "moda": "talkzoo fit --config moda [--config moda_cpu]",
    "faconet": "talkzoo fit --config faconet [--config faconet_cpu]",
    "renderer": "talkzoo fit --config portrait_renderer [--config portrait_renderer_cpu]",
}


def stage_checkpoint(runs: Path, stage: str) -> Path:
    """RUNS/<stage>/checkpoints/last.ckpt."""
    return Path(runs) / stage / "checkpoints" / "last.ckpt"


def speaker_index(names: list[str], speaker: str, what: str) -> int:
    """Index of `speaker` among a checkpoint's speakers (a single-speaker checkpoint serves any speaker name)."""
    if speaker in names:
        return names.index(speaker)
    if len(names) == 1:
        return 0
    raise UserError(f"the {what} checkpoint has speakers {names}, not {speaker!r}; pass a run trained on it")


def load_moda_stage(runs: Path, stage: str, cls: type, device: str | torch.device) -> Any:
    """One trained MODA stage (eval mode) from RUNS/<stage>, UserError naming the command that makes it."""
    hint = f"train it: {STAGE_HINTS[stage]} --trainer.default_root_dir {Path(runs) / stage}"
    return load_run_module(stage_checkpoint(runs, stage), cls, missing_hint=hint, map_location=device).eval()


class MODAAvatar(Avatar):
    """MODA for one speaker. Options: stride, context, lookahead (motion windows, frames; talkzoo.avatars.
    moda_motion), temperature, seed (ProbAttn sampling; None: the run's), size (output (H, W); None: the speaker's)."""

    method = "moda"

    def __init__(
        self,
        moda: MODA,
        faconet: FaCoNet,
        renderer: PortraitRenderer,
        speaker_name: str,
        device: torch.device,
        size: tuple[int, int] | None = None,
        stride: int = 4,
        context: int = 96,
        lookahead: int = 6,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> None:
        self.moda, self.faconet, self.renderer = moda, faconet, renderer
        moda_index = speaker_index([s.speaker for s in moda.speaker_stats], speaker_name, "MODA")
        self.faconet_index = speaker_index([s.speaker for s in faconet.speaker_stats], speaker_name, "FaCo-Net")
        info = renderer.speaker_info
        fps = float(moda.speaker_cameras[moda_index].get("fps", 25.0))
        super().__init__(fps, (int(info["height"]), int(info["width"])), device, size)
        self.camera, self.thickness = renderer.camera, info["thickness"]
        waveform = moda.input_kind == "waveform"
        feature_dim = 0 if waveform else int(moda.audio_encoder.in_dim)
        self.audio = StreamAudio(None if waveform else str(moda.hparams.feature), feature_dim, fps,
                                 keep_samples=waveform)  # fmt: skip
        self.motion = MotionStream(moda, moda_index, self.audio, stride, context, lookahead, temperature, seed)
        self.mesh_smoother = GaussianSmoother(float(faconet.hparams.nonsemantic_smoothing))
        self.semantic = np.zeros(478, dtype=bool)
        self.semantic[list(LIP_INDICES) + list(EYE_INDICES)] = True
        self.reset()

    @classmethod
    def load(cls, runs: Path, speaker: Path, device: str | torch.device = "cpu", **options: Any) -> MODAAvatar:
        device = torch.device(device)
        stages = {name: load_moda_stage(runs, name, klass, device) for name, klass in
                  (("moda", MODA), ("faconet", FaCoNet), ("renderer", PortraitRenderer))}  # fmt: skip
        spk = Speaker(speaker)
        options.setdefault("size", (spk.meta.height, spk.meta.width))  # every method's video at the speaker's size
        return cls(stages["moda"], stages["faconet"], stages["renderer"], spk.name, device, **options)

    @property
    def lookahead_frames(self) -> int | None:
        if not self.audio.streaming:
            return None
        return self.motion.frames_lookahead + self.mesh_smoother.lookahead + 1  # + the feature's 12.5 ms

    # ---- the stream -----------------------------------------------------------------------------------------
    def _reset_stream(self) -> None:
        self.audio.reset()
        self.motion.reset()
        self.meshes = Track((478, 3))
        self.poses = Track((4, 4))
        self.shoulders = Track((18, 3))

    def _feed(self, samples: np.ndarray) -> None:
        self.audio.feed(samples)

    def _end(self) -> None:
        self.audio.end()

    def _ready_frames(self) -> int:
        total = self._total
        self.motion.advance(self.frames_known, total)
        t = len(self.meshes)
        while self.motion.ready(t, total) and (total is None or t < total):
            motion = self.motion.at(t, total)
            with torch.inference_mode():
                mesh = self.faconet.compose(motion["lips"][None], motion["eyes"][None], speaker=self.faconet_index)
            self.meshes.append(mesh.numpy())
            self.poses.append(head_motion_to_pose(motion["head"])[None])
            self.shoulders.append(motion["torso"][None])
            t += 1
        ready = 0
        while self.mesh_smoother.ready(ready + self._next, len(self.meshes), total):
            ready += 1
        return self._next + ready

    def _render(self, t: int) -> np.ndarray:
        mesh = self.meshes[t].copy()
        if self.mesh_smoother.lookahead:
            smoothed = self.mesh_smoother.at(self.meshes.values, t, self._total)
            mesh[~self.semantic] = smoothed[~self.semantic]
        height, width = self.native
        condition = condition_image(mesh, self.shoulders[t], self.poses[t], self.camera, height, width,
                                    self.thickness)  # fmt: skip
        return self.renderer.render(condition[None], np.array([t]))[0]

"""ER-NeRF as an Avatar: per frame, the audio windows the head was trained on, a head pose and blink from a motion
source (talkzoo.avatars.motion), the head volume render composited over the torso field (or over the static
background when there is no torso run), background → torso → head.

Stages: RUNS/ernerf_head and, when trained, RUNS/ernerf_torso. Motion: "moda" (needs RUNS/moda), "training" (the
training poses replayed) or "auto" (moda when RUNS/moda exists).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from talkzoo.datamodules.boundary import open_speaker
from talkzoo.datamodules.resize import resize_image, scale_intrinsics, target_size
from talkzoo.lightning_modules.ernerf_head import ERNeRFHead
from talkzoo.lightning_modules.ernerf_torso import ERNeRFTorso, load_head, render_head_layer
from talkzoo.lightning_modules.run_loading import find_run_config, load_run_module
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.rendering.rays import pixel_grid
from talkzoo.zoo.rendering.volume import composite

from .moda import stage_checkpoint
from .motion import PoseSource
from .posed import PosedAudioAvatar, motion_options, pose_source

HEAD_HINT = "talkzoo fit --config ernerf_head [--config ernerf_head_cpu]"
TORSO_HINT = "talkzoo fit --config ernerf_torso [--config ernerf_torso_cpu]"


def run_data_config(checkpoint: Path) -> dict[str, Any]:
    """`data.init_args` of the run that trained `checkpoint` ({} when unknown)."""
    config = find_run_config(checkpoint)
    if config is None:
        return {}
    data = (yaml.safe_load(config.read_text()) or {}).get("data") or {}
    return dict(data.get("init_args") or {})


class ERNeRFAvatar(PosedAudioAvatar):
    """ER-NeRF for one speaker.

    Args (options of `load`): motion "auto" | "moda" | "training"; smooth: Gaussian σ in frames on the pose path;
    chunk: rays per render chunk; size: output (H, W) (None: the speaker's); moda_stride, moda_context,
    moda_lookahead: MODA's motion windows (talkzoo.avatars.moda_motion).
    """

    method = "ernerf"

    def __init__(
        self,
        head: ERNeRFHead,
        torso: ERNeRFTorso | None,
        speaker: Path,
        data: dict[str, Any],
        poses: PoseSource,
        device: torch.device,
        size: tuple[int, int] | None = None,
        chunk: int = 16384,
    ) -> None:
        spk = open_speaker(str(speaker))
        meta = spk.meta
        native = target_size(data.get("size"), meta.height, meta.width)
        super().__init__(float(meta.fps), native, device, size if size is not None else (meta.height, meta.width))
        self.head, self.torso, self.chunk = head, torso, int(chunk)
        self._setup_posed(data, poses, int(head.field.audio_net.convs[0].in_channels))
        height, width = native
        intrinsics = scale_intrinsics(meta.intrinsics, width / meta.width, height / meta.height)
        self.intrinsics = torch.from_numpy(intrinsics)[None].to(device)
        background = torch.from_numpy(resize_image(spk.background(), height, width)).float().div(255)
        self.background = background.permute(2, 0, 1)[None].to(device)
        self.background_rays = self.background[0].permute(1, 2, 0).reshape(-1, 3)
        self.pixels = pixel_grid(height, width, device)
        if torso is not None:
            torso.hparams.val_chunk = self.chunk
        self.reset()

    @classmethod
    def load(cls, runs: Path, speaker: Path, device: str | torch.device = "cpu", **options: Any) -> ERNeRFAvatar:
        device = torch.device(device)
        runs = Path(runs)
        motion, smooth, moda_windows = motion_options(options)
        head_path = stage_checkpoint(runs, "ernerf_head")
        if not head_path.is_file():
            raise UserError(f"{head_path}: no ER-NeRF head run; train it: {HEAD_HINT} --trainer.default_root_dir "
                            f"{runs / 'ernerf_head'}")  # fmt: skip
        torso_path = stage_checkpoint(runs, "ernerf_torso")
        torso = None
        if torso_path.is_file():
            torso = load_run_module(torso_path, ERNeRFTorso, {"head_checkpoint": str(head_path)},
                                    missing_hint=f"train the torso: {TORSO_HINT}", map_location=device)  # fmt: skip
            head = torso.head
            torso = torso.to(device).eval()
        else:
            head = load_head(head_path)
        head = head.to(device).eval()
        poses = pose_source(runs, Path(speaker), motion, smooth, device, moda_windows)
        return cls(head, torso, Path(speaker), run_data_config(head_path), poses, device, **options)

    def _render(self, t: int) -> np.ndarray:
        batch = {
            "background": self.background,
            "intrinsics": self.intrinsics,
            "index": torch.zeros(1, dtype=torch.long, device=self.device),
            **self._pose_inputs(t),
        }
        height, width = self.native
        if self.torso is not None:
            image = self.torso.render_frame(batch)["image"]
        else:
            color, opacity = render_head_layer(self.head, batch, self.pixels, self.chunk)
            image = composite(color, opacity, self.background_rays).reshape(height, width, 3).permute(2, 0, 1)
        return (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)

"""TalkingGaussian stage 3, fusion (its train_fuse.py; docs/talkinggaussian.md): the trained face and mouth branches
composited over the frame's torso + background and refined on full frames.

The branches come from their `talkzoo fit` runs (`face_checkpoint`, `mouth_checkpoint`) and are stored, refined, in
this stage's checkpoint. Frozen: both motion networks and all geometry. Trained: the face's opacity, the face's and
the mouth's SH colours (Adam; the opacity LR is this stage's `opacity_lr`, 0.001 — the original passes it but its
optimizer restore overrides it with the saved 0.05, quirk Q3). No densification.
Per step: I = P_f + (P_m + B·(1 − A_m))·(1 − A_f), B = GT torso over the background; loss L1 + 0.2·DSSIM on the full
frame, + 0.5 patch LPIPS after lpips_start.

Inference seam: `render_frame(batch)` needs pose, intrinsics, audio, blink, torso and background (no image).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningModule

from talkzoo.lightning_modules.speaker_module import SpeakerModule
from talkzoo.lightning_modules.step_logging import log_step_scalars
from talkzoo.lightning_modules.talkinggaussian_common import (
    LazyLPIPS,
    backdrop,
    expression,
    frame_camera,
    region_psnr,
    to_uint8,
)
from talkzoo.lightning_modules.talkinggaussian_face import TalkingGaussianFace
from talkzoo.lightning_modules.talkinggaussian_mouth import TalkingGaussianMouth
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.talkinggaussian.branch import GaussianBranch
from talkzoo.zoo.talkinggaussian.camera import HeadSpace
from talkzoo.zoo.talkinggaussian.composite import composite_layers
from talkzoo.zoo.talkinggaussian.losses import l1_dssim, patchify
from talkzoo.zoo.talkinggaussian.raster_types import RasterSettings

FACE_COMMAND = "talkzoo fit --config talkinggaussian_face [--config presets/talkinggaussian_face_cpu]"
MOUTH_COMMAND = "talkzoo fit --config talkinggaussian_mouth [--config presets/talkinggaussian_mouth_cpu]"
TRAINED = ("face.gaussians.opacity", "face.gaussians.features_dc", "face.gaussians.features_rest",
           "mouth.gaussians.features_dc", "mouth.gaussians.features_rest")  # fmt: skip


def load_stage(path: str | Path, expected: type[LightningModule], command: str) -> Any:
    """A trained branch stage (eval mode); UserError naming the command when the checkpoint is missing."""
    from talkzoo.lightning_modules.run_loading import load_run_module

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{expected.__name__} checkpoint {path} not found; train it first: {command}")
    return load_run_module(path, expected, missing_hint=f"train it first: {command}")


class TalkingGaussianFuse(SpeakerModule):
    """Face + mouth over the torso and background.

    Args:
        face_checkpoint, mouth_checkpoint: the runs of configs/talkinggaussian_face.yaml and _mouth.yaml
            (<run>/checkpoints/last.ckpt).
        feature_lr: SH DC LR (2.5e-3; rest / 20). opacity_lr: face opacity LR (0.001).
        lambda_dssim: 0.2. patch_lpips_weight: 0.5 after lpips_start (5000). patch_range: half patch sizes (16, 21).
        background: the branches' render colour in training (green, composited away exactly).
        mouth_dilate: max-pool size on the mouth alpha when compositing at inference (the original's --dilate: 13
            at 512²; 0 = off).
        raster_backend: auto | torch | gsplat. near, eps2d: rasteriser constants (0.2, 0.3).
        val_mouth_metrics: MediaPipe lips on renders and targets → val/mouth_lmd, val/mouth_corr (as ER-NeRF).
        val_media_frames: frames for talkzoo.callbacks.media_logger.ValidationMedia.
        face, mouth, head: in-memory branches + head space used instead of the checkpoints (tests, benchmarks).
    """

    def __init__(
        self,
        face_checkpoint: str = "runs/talkinggaussian_face/checkpoints/last.ckpt",
        mouth_checkpoint: str = "runs/talkinggaussian_mouth/checkpoints/last.ckpt",
        feature_lr: float = 2.5e-3,
        opacity_lr: float = 1e-3,
        lambda_dssim: float = 0.2,
        lpips_start: int = 5000,
        patch_lpips_weight: float = 0.5,
        patch_range: tuple[int, int] = (16, 21),
        background: tuple[float, float, float] = (0.0, 1.0, 0.0),
        mouth_dilate: int = 0,
        raster_backend: str = "auto",
        near: float = 0.2,
        eps2d: float = 0.3,
        val_mouth_metrics: bool = True,
        val_media_frames: int = 8,
        face: GaussianBranch | None = None,
        mouth: GaussianBranch | None = None,
        head: HeadSpace | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["face", "mouth", "head"])
        if face is None or mouth is None or head is None:
            face_stage = load_stage(face_checkpoint, TalkingGaussianFace, FACE_COMMAND)
            mouth_stage = load_stage(mouth_checkpoint, TalkingGaussianMouth, MOUTH_COMMAND)
            face, mouth, head = face_stage.branch, mouth_stage.branch, face_stage.head
            if not torch.allclose(face_stage.head.scale, mouth_stage.head.scale):
                raise UserError("the face and mouth runs were trained on different speakers (head spaces differ)")
        self.face, self.mouth, self.head = face.train(), mouth.train(), head.train()  # loaded runs are in eval mode
        for name, p in self.named_parameters():
            p.requires_grad_(name in TRAINED)
        self.raster = RasterSettings(near=near, eps2d=eps2d)
        self._lpips = LazyLPIPS(type(self).__name__)
        self._mouth_metrics: Any = None
        self._media: dict[str, list[np.ndarray]] = {}

    # ------------------------------------------------------------------------------------------- rendering
    def render_layers(self, batch: dict[str, torch.Tensor], background: torch.Tensor) -> dict[str, torch.Tensor]:
        """Both branches of the batch's frame over the constant `background` [3] → face, mouth [3, H, W],
        face_alpha, mouth_alpha [1, H, W]."""
        camera = frame_camera(self.head, batch)
        audio = batch["audio"][:1]
        backend = self.hparams.raster_backend
        face = self.face.render(self.face.deform(audio, expression(batch)), camera, background, self.raster, backend)
        mouth = self.mouth.render(self.mouth.deform(audio), camera, background, self.raster, backend)
        return {"face": face.image, "face_alpha": face.alpha, "mouth": mouth.image, "mouth_alpha": mouth.alpha}

    def composite(
        self, layers: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], background: torch.Tensor, dilate: int
    ) -> torch.Tensor:
        return composite_layers(layers["face"], layers["face_alpha"], layers["mouth"], layers["mouth_alpha"],
                                backdrop(batch), background, dilate)  # fmt: skip

    @torch.no_grad()
    def render_frame(self, batch: dict[str, torch.Tensor], mouth_dilate: int | None = None) -> dict[str, torch.Tensor]:
        """The portrait of the batch's first frame → image [3, H, W] in [0, 1], head [3, H, W] (face + mouth over
        black), face_alpha, mouth_alpha [H, W]. Needs pose, intrinsics, audio, blink, torso, background."""
        black = torch.zeros(3, device=self.device)
        layers = self.render_layers(batch, black)
        dilate = self.hparams.mouth_dilate if mouth_dilate is None else mouth_dilate
        image = self.composite(layers, batch, black, dilate).clamp(0, 1)
        head = layers["face"] + layers["mouth"] * (1 - layers["face_alpha"])
        return {"image": image, "head": head.clamp(0, 1), "face_alpha": layers["face_alpha"][0],
                "mouth_alpha": layers["mouth_alpha"][0]}  # fmt: skip

    # -------------------------------------------------------------------------------------------- training
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        hp = self.hparams
        background = torch.tensor(hp.background, device=self.device)
        image = self.composite(self.render_layers(batch, background), batch, background, 0)
        target = batch["image"][0]
        loss = l1_dssim(image, target, hp.lambda_dssim)
        logs = {"train/l1_dssim": loss.detach()}
        if self.global_step + 1 > hp.lpips_start:
            lpips = self._lpips.get(self.device)
            if lpips is not None:
                size = 2 * int(torch.randint(hp.patch_range[0], hp.patch_range[1] + 1, (1,)))
                lp = lpips(patchify(image, size), patchify(target, size)).mean()
                loss = loss + hp.patch_lpips_weight * lp
                logs["train/lpips"] = lp.detach()
        logs["train/loss"] = loss.detach()
        log_step_scalars(self, logs, batch_size=1)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        hp = self.hparams
        adam = {"betas": (0.9, 0.999), "eps": 1e-15, "weight_decay": 0.0}
        face, mouth = self.face.gaussians, self.mouth.gaussians
        groups = [
            {"params": [face.opacity], "lr": hp.opacity_lr, "name": "face.opacity", **adam},
            {"params": [face.features_dc, mouth.features_dc], "lr": hp.feature_lr, "name": "f_dc", **adam},
            {"params": [face.features_rest, mouth.features_rest], "lr": hp.feature_lr / 20, "name": "f_rest", **adam},
        ]
        return torch.optim.AdamW(groups)

    # ------------------------------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        from talkzoo.zoo.metrics.image_mouth import ImageMouthMetrics

        self._mouth_metrics = ImageMouthMetrics() if self.hparams.val_mouth_metrics else None
        self._media = {"render": [], "target": [], "opacity": []}

    @torch.no_grad()
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        from torchmetrics.functional.image import structural_similarity_index_measure

        out = self.render_frame(batch)
        image, target = out["image"], batch["image"][0]
        metrics = {
            "val/psnr": region_psnr(image, target),
            "val/ssim": structural_similarity_index_measure(image[None], target[None], data_range=1.0),
        }
        head = region_psnr(image, target, batch["parsing"][0] == 1) if "parsing" in batch else None
        if head is not None:
            metrics["val/psnr_head"] = head
        mouth = region_psnr(image, target, batch["mouth_mask"][0]) if "mouth_mask" in batch else None
        if mouth is not None:
            metrics["val/psnr_mouth"] = mouth
        lpips = self._lpips.get(self.device)
        if lpips is not None:
            metrics["val/lpips"] = lpips(image[None], target[None]).mean()
        self.log_dict(metrics, batch_size=1, prog_bar=True)
        render_u8, target_u8 = to_uint8(image), to_uint8(target)
        if self._mouth_metrics is not None:
            self._mouth_metrics.add(render_u8, target_u8)
        if len(self._media.get("render", [])) < self.hparams.val_media_frames:
            self._media["render"].append(render_u8)
            self._media["target"].append(target_u8)
            alpha = out["face_alpha"] + (1 - out["face_alpha"]) * out["mouth_alpha"]
            self._media["opacity"].append(alpha.float().cpu().numpy())

    def on_validation_epoch_end(self) -> None:
        if self._mouth_metrics is None:
            return
        from talkzoo.zoo.metrics.image_mouth import ImageMouthMetrics

        sums = self.trainer.strategy.reduce(self._mouth_metrics.sums().to(self.device), reduce_op="sum")
        self._mouth_metrics.close()
        self._mouth_metrics = None
        if not self.trainer.sanity_checking:
            values = ImageMouthMetrics.compute(sums.cpu())
            self.log_dict({f"val/{k}": v for k, v in values.items()}, batch_size=1)

    def validation_media(self) -> dict[str, Any] | None:
        """The first val frames (talkzoo.callbacks.media_logger protocol, kind "frames"): the portrait, the frame,
        and the head's coverage A_f + (1 − A_f)·A_m."""
        if not self._media.get("render"):
            return None
        fps = float(self.speakers[0].fps) if self.speakers else 25.0
        return {"kind": "frames", "fps": fps, **{k: np.stack(v) for k, v in self._media.items()}}

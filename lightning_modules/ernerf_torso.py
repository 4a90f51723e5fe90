"""ER-NeRF torso stage (docs/ernerf.md, "Torso"): a 2-D deformable field trained with the head frozen, and the full
portrait composited background → torso → head.

The head is loaded by path (`head_checkpoint`, a `talkzoo fit` run of configs/ernerf_head.yaml), frozen, kept in eval
mode and left out of this module's checkpoint (it is reloaded from the path; `talkzoo generate` can override it).
Training (as ER-NeRF): random pixels of one frame, prediction = torso over the static background, target = the GT
torso layer over the background, loss MSE + anchor_weight · mean((1 − w)²) over the key points' homogeneous w; the
head is neither rendered nor updated. Validation renders the full portrait in chunks and logs
- val/psnr, val/ssim: full frame, head + torso over the background vs the frame;
- val/psnr_torso: on the GT neck + torso labels (parsing 2, 3);
- val/neck_mae, val/neck_psnr: in the neck band = the pixels within r px of both the GT head (label 1) and the GT
  neck/torso (labels 2, 3), r = max(1, round(neck_band · H)) (the head–torso junction where seams show);
- the same metrics of the head-only model over the static background (`val/head_only_*`) as the baseline.

Batches: `talkzoo.datamodules.batches.FrameBatch` (FrameDataModule, batch_size 1) with image, parsing, torso,
background, pose, intrinsics, blink, landmarks, audio, index (see talkzoo.lightning_modules.ernerf_head).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure

from talkzoo.datamodules.batches import FrameBatch
from talkzoo.datamodules.speaker_info import SpeakerInfo
from talkzoo.lightning_modules.ernerf_head import ERNeRFHead
from talkzoo.lightning_modules.media import FramesMedia
from talkzoo.lightning_modules.run_loading import load_run_module
from talkzoo.lightning_modules.speaker_module import SpeakerModule
from talkzoo.lightning_modules.step_logging import log_step_scalars
from talkzoo.zoo.ernerf.pose_encoding import normalised_pixels
from talkzoo.zoo.ernerf.torso_field import TorsoField
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.rendering.rays import pixel_grid
from talkzoo.zoo.rendering.volume import composite, composite_portrait, over

HEAD_COMMAND = "talkzoo fit --config configs/ernerf_head.yaml [--config configs/presets/ernerf_head_cpu.yaml]"


def load_head(path: str | Path) -> ERNeRFHead:
    """The frozen head (eval mode, no gradients) of a `talkzoo fit` run; UserError naming the command if missing."""
    path = Path(path)
    if not path.is_file():
        raise UserError(
            f"head checkpoint {path} not found; train the head first: {HEAD_COMMAND}, or set head_checkpoint"
        )
    head = load_run_module(path, ERNeRFHead, missing_hint=f"train the head first: {HEAD_COMMAND}")
    for p in head.parameters():
        p.requires_grad_(False)
    return head.eval()


def neck_band(parsing: torch.Tensor, radius: int) -> torch.Tensor:
    """parsing int [H, W] (0 bg, 1 head, 2 neck, 3 torso) → bool [H, W]: pixels within `radius` px (Chebyshev) of
    both the head and the neck/torso labels, i.e. a band of width ≈ 2·radius around the head–body junction."""
    k = 2 * radius + 1

    def dilate(mask: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(mask[None, None].float(), k, stride=1, padding=radius)[0, 0] > 0

    return dilate(parsing == 1) & dilate((parsing == 2) | (parsing == 3))


@torch.no_grad()
def render_head_layer(
    head: ERNeRFHead, batch: FrameBatch, pixels: torch.Tensor, chunk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The head's premultiplied colour [N, 3] and opacity [N] at pixels [N, 2] (u, v), in chunks of `chunk` rays."""
    colors, opacities = [], []
    for part in pixels.split(chunk):
        out = head.render(batch, part)
        colors.append(out["color"])
        opacities.append(out["opacity"])
    return torch.cat(colors), torch.cat(opacities)


class ERNeRFTorso(SpeakerModule):
    """The ER-NeRF torso LightningModule.

    Args:
        field: the torso field (talkzoo.zoo.ernerf.torso_field.TorsoField).
        head_checkpoint: the trained head (`talkzoo fit --config configs/ernerf_head.yaml` →
            <run>/checkpoints/last.ckpt).
        pixels_per_step: random pixels per training step on CUDA (ER-NeRF: 65,536); cpu_pixels_per_step on CPU.
        lr, lr_net: learning rates of the hash grid and of the MLPs / key points / codes (1e-2, 1e-3, as ER-NeRF).
        betas, eps: AdamW ((0, 0.99), 1e-8). grid_weight_decay: 0 (ER-NeRF silently used 0.01: docs/ernerf.md,
            "Quirks" #3).
        lr_decay: factor reached at `max_steps` (0.5**(step/iters), as ER-NeRF's `main.py`).
        anchor_weight: weight of mean((1 − w)²) over the key points (1, as ER-NeRF).
        val_chunk: pixels / rays per chunk of full-frame renders.
        neck_band: radius of the neck band as a fraction of the image height (0.04: 4 px at 96²).
        head: an in-memory head used instead of loading `head_checkpoint` (benchmarks, tests); frozen here.
    """

    def __init__(
        self,
        field: TorsoField,
        head_checkpoint: str = "runs/ernerf_head/checkpoints/last.ckpt",
        pixels_per_step: int = 65536,
        cpu_pixels_per_step: int = 4096,
        lr: float = 1e-2,
        lr_net: float = 1e-3,
        betas: tuple[float, float] = (0.0, 0.99),
        eps: float = 1e-8,
        grid_weight_decay: float = 0.0,
        lr_decay: float = 0.5,
        anchor_weight: float = 1.0,
        val_chunk: int = 16384,
        neck_band: float = 0.04,
        head: ERNeRFHead | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["field", "head"])
        self.field = field
        self.head = load_head(head_checkpoint) if head is None else head.eval().requires_grad_(False)
        self._media: FramesMedia | None = None

    # ------------------------------------------------------------------------------------ frozen head plumbing
    def train(self, mode: bool = True) -> ERNeRFTorso:
        super().train(mode)
        self.head.eval()  # the head always renders deterministically (no stratification, code 0)
        return self

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        state = super().state_dict(*args, **kwargs)
        prefix = kwargs.get("prefix", "") + "head."
        return {k: v for k, v in state.items() if not k.startswith(prefix)}  # reloaded from head_checkpoint

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        state = {k: v for k, v in state_dict.items() if not k.startswith("head.")}
        result = super().load_state_dict(state, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if not k.startswith("head.")]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"torso checkpoint mismatch: missing {missing}, unexpected {result.unexpected_keys}")
        return result

    def set_speakers(self, speakers: Sequence[SpeakerInfo]) -> None:
        """The head's speaker, as the data gives it: its audio feature must be the one the head was trained on."""
        head_in = self.head.field.audio_net.convs[0].in_channels
        for info in speakers:
            if info.audio_dim is not None and info.audio_dim != head_in:
                raise UserError(
                    f"the data's audio feature has {info.audio_dim} channels but the head was trained on {head_in}; "
                    "set data.feature to the head's feature"
                )
        super().set_speakers(speakers)

    # -------------------------------------------------------------------------------------------- rendering
    def condition(self, batch: FrameBatch, training: bool | None = None) -> torch.Tensor:
        """Per-frame conditioning of the torso field [1, C]: key points from the batch's pose, the frame's code in
        training (code 0 otherwise)."""
        height, width = batch["image"].shape[-2:] if "image" in batch else batch["background"].shape[-2:]
        training = self.training if training is None else training
        index = batch["index"].reshape(1) if training else None
        scale = self.head.box_scale.float()
        return self.field.condition(batch["pose"][0], batch["intrinsics"][0], scale, height, width, index)

    def render_torso(
        self, batch: FrameBatch, pixels: torch.Tensor, condition: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Torso field at pixels [N, 2] (u, v) of the batch's frame → alpha [N], rgb [N, 3], deform [N, 2]."""
        height, width = batch["background"].shape[-2:]
        condition = self.condition(batch) if condition is None else condition
        return self.field(normalised_pixels(pixels.float(), height, width), condition)

    @torch.no_grad()
    def render_frame(self, batch: FrameBatch, torso: bool = True) -> dict[str, torch.Tensor]:
        """Full portrait of the batch's first frame, chunked → image [3, H, W] (bg → torso → head), head_only
        [3, H, W] (head over the static background), head_opacity [H, W], torso_alpha [H, W]."""
        height, width = batch["background"].shape[-2:]
        pixels = pixel_grid(height, width, self.device)
        chunk = self.hparams.val_chunk
        head_color, head_opacity = render_head_layer(self.head, batch, pixels, chunk)
        bg = batch["background"][0].permute(1, 2, 0).reshape(-1, 3)
        condition = self.condition(batch, training=False)
        alphas, rgbs = [], []
        for part in pixels.split(chunk):
            out = self.render_torso(batch, part, condition)
            alphas.append(out["alpha"])
            rgbs.append(out["rgb"])
        alpha, rgb = torch.cat(alphas), torch.cat(rgbs)
        image = composite_portrait(head_color, head_opacity, rgb, alpha, bg)

        def chw(x: torch.Tensor) -> torch.Tensor:
            return x.reshape(height, width, 3).permute(2, 0, 1)

        return {
            "image": chw(image),
            "head_only": chw(composite(head_color, head_opacity, bg)),
            "head_opacity": head_opacity.reshape(height, width),
            "torso_alpha": alpha.reshape(height, width),
        }

    # -------------------------------------------------------------------------------------------- training
    def _pixels_per_step(self) -> int:
        return self.hparams.pixels_per_step if self.device.type == "cuda" else self.hparams.cpu_pixels_per_step

    def training_step(self, batch: FrameBatch, batch_idx: int) -> torch.Tensor:
        height, width = batch["background"].shape[-2:]
        n = self._pixels_per_step()
        u = torch.randint(0, width, (n,), device=self.device)
        v = torch.randint(0, height, (n,), device=self.device)
        out = self.render_torso(batch, torch.stack((u, v), dim=-1))
        bg = batch["background"][0][:, v, u].T  # [N, 3]
        pred = over(torch.cat((out["rgb"], out["alpha"][:, None]), dim=-1), bg)
        target = over(batch["torso"][0][:, v, u].T, bg)  # GT torso over the background
        mse = ((pred - target) ** 2).mean()
        anchor = ((1 - self.field.pose_encoding.anchor_weights) ** 2).mean()
        loss = mse + self.hparams.anchor_weight * anchor
        logs = {"train/mse": mse.detach(), "train/anchor": anchor.detach(), "train/loss": loss.detach()}
        log_step_scalars(self, logs, batch_size=1)
        return loss

    def _iters(self) -> int:
        steps = self.trainer.max_steps if self._trainer is not None else -1
        return steps if steps and steps > 0 else 200000

    # ------------------------------------------------------------------------------------------ validation
    def on_validation_epoch_start(self) -> None:
        self._media = None

    def frame_metrics(self, batch: FrameBatch, out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Full-frame PSNR / SSIM, torso-region PSNR and neck-band error of the portrait and the head-only baseline."""
        target = batch["image"][0]
        parsing = batch["parsing"][0]
        radius = max(1, round(self.hparams.neck_band * target.shape[-2]))
        regions = {"torso": (parsing == 2) | (parsing == 3), "neck": neck_band(parsing, radius)}
        metrics: dict[str, torch.Tensor] = {}
        for name, image in (("", out["image"]), ("head_only_", out["head_only"])):
            err = (image - target) ** 2
            metrics[f"val/{name}psnr"] = -10 * torch.log10(err.mean().clamp_min(1e-10))
            metrics[f"val/{name}ssim"] = structural_similarity_index_measure(image[None], target[None], data_range=1.0)
            for region, mask in regions.items():
                if not mask.any():
                    continue
                mse = err.mean(dim=0)[mask].mean()
                suffix = "psnr_torso" if region == "torso" else "neck_psnr"
                metrics[f"val/{name}{suffix}"] = -10 * torch.log10(mse.clamp_min(1e-10))
                if region == "neck":
                    metrics[f"val/{name}neck_mae"] = (image - target).abs().mean(dim=0)[mask].mean()
        return metrics

    def validation_step(self, batch: FrameBatch, batch_idx: int) -> None:
        out = self.render_frame(batch)
        self.log_dict(self.frame_metrics(batch, out), batch_size=1, prog_bar=False)
        if self._media is None:
            coverage = out["head_opacity"] + (1 - out["head_opacity"]) * out["torso_alpha"]

            def u8(x: torch.Tensor) -> np.ndarray:
                return (x.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)[None]

            self._media = {
                "kind": "frames",
                "fps": float(self.speakers[0].fps) if self.speakers else 25.0,
                "render": u8(out["image"]),
                "target": u8(batch["image"][0]),
                "opacity": coverage.float().cpu().numpy()[None],
                "condition": u8(out["head_only"]),
            }

    def validation_media(self) -> FramesMedia | None:
        """The first val frame (media protocol, kind "frames"): render = full portrait, target = the frame,
        opacity = head + torso coverage α_h + (1 − α_h)·α_t, condition = the head-only render over the background."""
        return self._media

    # ------------------------------------------------------------------------------------------ optimiser
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        grid = list(self.field.grid.parameters())
        taken = {id(p) for p in grid}
        nets = [p for p in self.field.parameters() if id(p) not in taken]
        groups = [
            {"params": grid, "lr": hp.lr, "weight_decay": hp.grid_weight_decay},
            {"params": nets, "lr": hp.lr_net, "weight_decay": 0.0},
        ]
        optimizer = torch.optim.AdamW(groups, betas=tuple(hp.betas), eps=hp.eps)
        iters, decay = self._iters(), math.log(hp.lr_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: math.exp(decay * step / iters))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

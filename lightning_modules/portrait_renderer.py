"""MODA's per-speaker portrait renderer (docs/moda.md, "Renderer"): condition image + reference image + TPE → frame,
trained with L1, a perceptual term, LSGAN on a multi-scale PatchGAN and discriminator feature matching.

Batch: `talkzoo.datamodules.batches.PortraitBatch`: `condition`, `reference`, `image` float32 [B, 3, H, W] in
[0, 1], `mouth` [B, 1, H, W], `index` int64 [B] (frame numbers; TPE ids = zoo.portrait.tpe_index(index, num_train),
the same map as inference).

Optimisation is manual: per batch one discriminator step, then one generator step, so `trainer.global_step` (and
`trainer.max_steps`) counts 2 optimizer steps per batch when a discriminator is used (1 without).
Perceptual term (`perceptual`): "lpips" (zoo.losses.lpips; when its weights are not available offline, the module
prints a clear notice and falls back to "feature_matching") or "feature_matching" (no extra term: the feature
matching loss, weighted by fm_weight, is the perceptual signal).
Validation: `val/psnr`, `val/ssim` (torchmetrics, images in [0, 1]), `val/l1`, `val/mouth_l1` (inside the lip box of
batch `mouth`; `val/mouth_l1_reference` for the reference image), and `val/psnr_reference` (the reference image as
the prediction: the trivial baseline). Inference needs no data: the speaker's SpeakerInfo (camera, render size, line
thickness, train-frame count, reference image) is stored in the checkpoint
(talkzoo.lightning_modules.speaker_module).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure

from talkzoo.datamodules.batches import PortraitBatch
from talkzoo.datamodules.speaker_info import SpeakerInfo
from talkzoo.lightning_modules.ddp import allow_two_backward_passes
from talkzoo.lightning_modules.media import FramesMedia
from talkzoo.lightning_modules.protocols import ImageNetwork, require
from talkzoo.lightning_modules.speaker_module import SpeakerModule
from talkzoo.lightning_modules.step_logging import log_step_scalars
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.losses.lpips import LPIPS, LPIPSWeightsUnavailable
from talkzoo.zoo.portrait import Camera, feature_matching, lsgan, tpe_channels, tpe_index, tpe_planes

PERCEPTUAL = ("lpips", "feature_matching")


def mouth_l1(image: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute error inside the lip box: images [B, 3, H, W], mask [B, 1, H, W] in {0, 1} → scalar (0 for an
    empty mask). Trains the mouth-weighted L1 and scores `val/mouth_l1`."""
    return ((image - target).abs() * mask).sum() / (3 * mask.sum()).clamp_min(1.0)


class PortraitRenderer(SpeakerModule):
    """The V stage of MODA with an injected generator and (optional) discriminator.

    Args:
        generator: [B, 6 + TPE planes, H, W] in [-1, 1] → [B, 3, H, W] in (-1, 1) (`zoo.portrait.UNetGenerator`).
        discriminator: [B, generator in + 3, H, W] → scales of feature maps (`zoo.portrait.MultiscaleDiscriminator`)
            or None (L1 + LPIPS only: no GAN, no feature matching).
        l1_weight: L1 weight (MODA 100). perceptual: "lpips" or "feature_matching". perceptual_weight: LPIPS weight
            (MODA: 10 on VGG19; LPIPS here). gan_weight: LSGAN generator weight (1). fm_weight: feature matching (10).
        d_real_weight: weight of the real term in the discriminator loss (MODA 0.666; fake gets 1 − it).
        lr, betas: Adam for both networks (MODA 1e-4, (0.5, 0.999)). decay_after: fraction of the run after which
            the learning rate decays linearly to 0 (1.0 = constant, MODA's effective schedule).
        tpe_scale, tpe_octaves: TPE t = id / tpe_scale, 1 + 2·octaves planes (MODA 1000, 6).
        use_tpe: False feeds zeros in place of the TPE planes (same channels): the generator cannot key appearance on
            the frame number, which held-out frames only have as ping-pong ids of train frames (MODA: True).
        residual: predict the frame as reference + 2·generator(x) (the generator's last convolution starts at zero,
            so training starts from the reference image) instead of generator(x) (MODA). Learns much faster on CPU
            budgets; off in the paper recipe.
        mouth_weight: weight of an extra L1 inside the box around the lips (batch `mouth`; 0 = off, as MODA, whose
            mouth mask was unused). The mouth is a few percent of the frame, so the full-frame L1 barely sees it.
        media_frames: frames of the first val batch kept for `validation_media`.
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module | None = None,
        l1_weight: float = 100.0,
        perceptual: str = "lpips",
        perceptual_weight: float = 10.0,
        gan_weight: float = 1.0,
        fm_weight: float = 10.0,
        d_real_weight: float = 0.666,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        decay_after: float = 1.0,
        tpe_scale: float = 1000.0,
        tpe_octaves: int = 6,
        use_tpe: bool = True,
        residual: bool = False,
        mouth_weight: float = 0.0,
        media_frames: int = 16,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["generator", "discriminator"])  # rebuilt from the run's config.yaml
        if perceptual not in PERCEPTUAL:
            raise ValueError(f"perceptual must be one of {', '.join(PERCEPTUAL)}, got {perceptual!r}")
        require(generator, ImageNetwork, "PortraitRenderer generator")
        if discriminator is not None:
            require(discriminator, ImageNetwork, "PortraitRenderer discriminator")
        in_channels = 6 + tpe_channels(tpe_octaves)
        if generator.in_channels != in_channels:
            raise ValueError(
                f"generator.in_channels = {generator.in_channels} but condition 3 + reference 3 + TPE "
                f"{tpe_channels(tpe_octaves)} = {in_channels}: set generator.init_args.in_channels: {in_channels}"
            )
        if discriminator is not None and discriminator.in_channels != in_channels + 3:
            raise ValueError(
                f"discriminator.in_channels = {discriminator.in_channels}, expected {in_channels + 3} "
                "(generator input + 3 image channels)"
            )
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        if residual:
            last = [m for m in generator.modules() if isinstance(m, nn.Conv2d)][-1]
            nn.init.zeros_(last.weight)
            if last.bias is not None:
                nn.init.zeros_(last.bias)
        self.perceptual = perceptual
        self._lpips: list[nn.Module] = []  # a list, not a submodule: frozen and never checkpointed
        self.psnr = PeakSignalNoiseRatio(data_range=1.0)
        self.ssim = StructuralSimilarityIndexMeasure(data_range=1.0)
        self.psnr_reference = PeakSignalNoiseRatio(data_range=1.0)
        self._media: dict[str, np.ndarray] | None = None
        self._nhwc = False  # networks converted to channels-last (CPU): _channels_last

    # ---- data-dependent state (SpeakerModule: stored in the checkpoint) --------------------------------------
    def setup(self, stage: str) -> None:
        if self._trainer is not None and self.discriminator is not None:
            allow_two_backward_passes(self.trainer)
        super().setup(stage)
        if stage == "fit" and self.perceptual == "lpips" and not self._lpips:
            self._lpips = _load_lpips()
            if not self._lpips:
                self.perceptual = "feature_matching"

    def on_fit_start(self) -> None:
        self._channels_last()

    def _channels_last(self) -> None:
        """On CPU, the networks' weights in channels-last memory format (once): oneDNN then keeps every activation
        NHWC and skips the per-convolution layout reorders — the 128² generator renders in 13 instead of 25 ms and
        a 96² training batch is about 15 % faster (2 cores). CUDA keeps the default layout (not measured there).
        The networks' inputs must be channels-last too (`_layout`), or every call reorders them first."""
        if self.device.type == "cpu" and not self._nhwc:
            for network in (self.generator, self.discriminator):
                if network is not None:
                    network.to(memory_format=torch.channels_last)
            self._nhwc = True

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        """x [B, C, H, W] in the networks' memory format. The concatenated inputs come out NCHW; handing those to
        channels-last weights costs a reorder per call (96², 1 thread: generator forward + backward 191 vs 181 ms,
        discriminator 31.5 vs 24.3 ms a batch of 4)."""
        return x.contiguous(memory_format=torch.channels_last) if self._nhwc else x

    def set_speakers(self, speakers: Sequence[SpeakerInfo]) -> None:
        """The one speaker this renderer draws; it needs the reference image and line thickness (PortraitDataModule)."""
        if len(speakers) > 1:
            raise UserError(f"PortraitRenderer renders one speaker; the data gives {len(speakers)}")
        for info in speakers:
            if info.reference is None or info.thickness is None:
                raise UserError(f"speaker {info.name}: PortraitRenderer needs a PortraitDataModule (reference image)")
        super().set_speakers(speakers)

    @property
    def speaker_info(self) -> dict[str, Any]:
        """What inference needs of the speaker ({} before training): camera (dict, own size), height, width (render
        size), thickness, num_train (TPE id range), reference (uint8 tensor [H, W, 3]), fps, name."""
        if not self.speakers:
            return {}
        info = self.speakers[0]
        assert info.reference is not None and info.thickness is not None  # checked in set_speakers
        return {
            "camera": info.camera.to_dict(),
            "height": int(info.image_size[0]),
            "width": int(info.image_size[1]),
            "thickness": int(info.thickness),
            "num_train": int(info.num_train),
            "reference": torch.from_numpy(info.reference),
            "fps": float(info.fps),
            "name": info.name,
        }

    @property
    def camera(self) -> Camera:
        """The speaker's camera at its own size."""
        return self.speakers[0].camera

    # ---- model ------------------------------------------------------------------------------------------------
    def generator_input(self, condition: torch.Tensor, reference: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """condition, reference [B, 3, H, W] in [0, 1], TPE ids [B] → [B, 6 + TPE planes, H, W] (images in [-1, 1])."""
        height, width = condition.shape[-2:]
        planes = tpe_planes(ids, height, width, self.hparams.tpe_scale, self.hparams.tpe_octaves)
        if not self.hparams.use_tpe:
            planes = torch.zeros_like(planes)
        return torch.cat([condition * 2 - 1, reference * 2 - 1, planes.to(condition)], dim=1)

    def tpe_ids(self, frames: torch.Tensor) -> torch.Tensor:
        """Frame numbers [B] → TPE ids [B] on the module's device (talkzoo.zoo.portrait.tpe_index)."""
        ids = tpe_index(frames, self.speakers[0].num_train if self.speakers else 1)
        return torch.as_tensor(ids, device=self.device)

    def synthesise(self, x: torch.Tensor) -> torch.Tensor:
        """Generator input [B, C, H, W] → frames [B, 3, H, W] in [-1, 1] (unclamped in residual mode)."""
        y = self.generator(self._layout(x))
        if self.hparams.residual:
            return x[:, 3:6] + 2 * y
        return y

    def forward(self, condition: torch.Tensor, reference: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """condition, reference [B, 3, H, W] in [0, 1], frame numbers [B] → frames [B, 3, H, W] in [0, 1]."""
        x = self.generator_input(condition, reference, self.tpe_ids(frames))
        return ((self.synthesise(x).float() + 1) / 2).clamp(0, 1)

    @torch.inference_mode()
    def render(self, conditions: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Inference: condition images uint8 [N, H, W, 3] and their frame numbers [N] → uint8 [N, H, W, 3]."""
        if not self.speakers:
            raise RuntimeError("PortraitRenderer has no speaker: train it or load a checkpoint saved by training")
        self._channels_last()
        cond = torch.from_numpy(np.ascontiguousarray(conditions)).to(self.device).permute(0, 3, 1, 2).float() / 255
        ref = self.speaker_info["reference"].to(self.device).permute(2, 0, 1).float().div(255)
        out = self(cond, ref.expand(cond.shape[0], -1, -1, -1), torch.as_tensor(frames))
        return (out.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()

    # ---- training ---------------------------------------------------------------------------------------------
    def _judge(self, x: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        assert self.discriminator is not None
        return self.discriminator(self._layout(torch.cat([x, image], dim=1)))

    def training_step(self, batch: PortraitBatch, batch_idx: int) -> torch.Tensor:
        hp = self.hparams
        optimizers = self.optimizers()
        opt_g, opt_d = (optimizers, None) if self.discriminator is None else optimizers
        x = self.generator_input(batch["condition"], batch["reference"], self.tpe_ids(batch["index"]))
        real = batch["image"] * 2 - 1
        fake = self.synthesise(x)
        size = x.shape[0]
        terms: dict[str, torch.Tensor] = {}
        if opt_d is not None:
            d_real = self._judge(x, real)
            d_fake = self._judge(x, fake.detach())
            terms["d_real"], terms["d_fake"] = lsgan(d_real, True), lsgan(d_fake, False)
            loss_d = hp.d_real_weight * terms["d_real"] + (1 - hp.d_real_weight) * terms["d_fake"]
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()
            terms["d_loss"] = loss_d.detach()
        terms["l1"] = (fake.float() - real).abs().mean()
        loss = hp.l1_weight * terms["l1"]
        if hp.mouth_weight > 0 and "mouth" in batch:
            error = mouth_l1(fake.float(), real, batch["mouth"])
            terms["mouth_l1"] = error
            loss = loss + hp.mouth_weight * error
        if self._lpips and self.perceptual == "lpips":
            lpips = self._lpips[0].to(self.device)
            with torch.autocast(device_type=self.device.type, enabled=False):  # unit-normalised features: fp32
                terms["lpips"] = lpips((fake.float() + 1) / 2, batch["image"].float()).mean()
            loss = loss + hp.perceptual_weight * terms["lpips"]
        if opt_d is not None:
            self.discriminator.requires_grad_(False)
            d_fake = self._judge(x, fake)
            terms["gan"], terms["fm"] = lsgan(d_fake, True), feature_matching(d_fake, d_real)
            loss = loss + hp.gan_weight * terms["gan"] + hp.fm_weight * terms["fm"]
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if opt_d is not None:
            self.discriminator.requires_grad_(True)
        opt_g.step()
        for scheduler in self._schedulers():
            scheduler.step()
        logs = {"train/loss": loss.detach(), **{f"train/{key}": value.detach() for key, value in terms.items()}}
        log_step_scalars(self, logs, batch_size=size, prog_bar_keys=("train/loss",))
        return loss.detach()

    def _schedulers(self) -> list[Any]:
        schedulers = self.lr_schedulers()
        if schedulers is None:
            return []
        return list(schedulers) if isinstance(schedulers, list) else [schedulers]

    # ---- validation -------------------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._media = None

    def validation_step(self, batch: PortraitBatch, batch_idx: int) -> None:
        pred = self(batch["condition"], batch["reference"], batch["index"]).clamp(0, 1)
        target = batch["image"].float()
        size = target.shape[0]
        self.psnr(pred, target)
        self.ssim(pred, target)
        self.psnr_reference(batch["reference"].float(), target)
        self.log("val/psnr", self.psnr, prog_bar=True, batch_size=size)
        self.log("val/ssim", self.ssim, batch_size=size)
        self.log("val/psnr_reference", self.psnr_reference, batch_size=size)
        self.log("val/l1", (pred - target).abs().mean(), sync_dist=True, batch_size=size)
        if "mouth" in batch:  # the lip box the mouth-weighted L1 trains: the part of the frame that speaks
            mask = batch["mouth"].float()
            self.log("val/mouth_l1", mouth_l1(pred, target, mask), sync_dist=True, batch_size=size)
            reference_l1 = mouth_l1(batch["reference"].float(), target, mask)
            self.log("val/mouth_l1_reference", reference_l1, sync_dist=True, batch_size=size)
        if batch_idx == 0:
            keep = int(self.hparams.media_frames)

            def u8(images: torch.Tensor) -> np.ndarray:
                return (images[:keep].clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()

            self._media = {"render": u8(pred), "target": u8(target), "condition": u8(batch["condition"])}

    def validation_media(self) -> FramesMedia | None:
        """The first val batch (≤ media_frames): {"kind": "frames", fps, render, target, condition} (uint8 NHWC)."""
        if self._media is None:
            return None
        fps = float(self.speakers[0].fps) if self.speakers else 25.0
        return {"kind": "frames", "fps": fps, **self._media}

    # ---- optimisation -----------------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        hp = self.hparams
        betas = tuple(hp.betas)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=hp.lr, betas=betas)
        optimizers = [opt_g]
        if self.discriminator is not None:
            optimizers.append(torch.optim.Adam(self.discriminator.parameters(), lr=hp.lr, betas=betas))
        batches = max(1, int(self.trainer.estimated_stepping_batches))
        if self.trainer.max_steps and self.trainer.max_steps > 0:
            batches = max(1, batches // len(optimizers))  # max_steps counts every optimizer's steps
        start = float(hp.decay_after) * batches

        def factor(step: int) -> float:
            if step < start:
                return 1.0
            return max(0.0, 1.0 - (step - start) / max(1.0, batches - start))

        if hp.decay_after >= 1.0:
            return optimizers
        schedulers = [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers]
        return optimizers, schedulers


def _load_lpips() -> list[nn.Module]:
    """[LPIPS] when its weights load, else [] after printing why (the caller falls back to feature matching)."""
    try:
        return [LPIPS().eval()]
    except LPIPSWeightsUnavailable as exc:
        message = f"PortraitRenderer: LPIPS weights unavailable ({exc}); falling back to perceptual: feature_matching"
        warnings.warn(message, stacklevel=2)
        print(message, flush=True)
        return []


__all__ = ["PERCEPTUAL", "PortraitRenderer"]

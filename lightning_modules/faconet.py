"""FaCo-Net (docs/moda.md, "FaCo-Net"): ground-truth lip and eye offsets (+ the subject mesh) → the dense 478×3 mesh
offsets, trained per frame with L1 + LSGAN against a point discriminator (manual optimisation: D step, then G step,
so `trainer.global_step` counts 2 optimizer steps per batch).

Batch: `talkzoo.datamodules.batches.MotionBatch` (MotionDataModule with keys [lips, eyes, mesh, subject, head]):
`lips`, `eyes`, `mesh` (all z-scored per speaker, so lips and eyes are slices of mesh), `subject`, `head`
(normalised; for the pixel metric), `speaker_index`, `mask`.

Fix of docs/moda.md, "Fixes" #14: the LSGAN terms average over every valid frame of the batch (the public code used
only the last sample). Validation metrics, over the 478 points in the speaker's canonical units and in pixels (projected
with the ground-truth pose): `val/l1`, `val/l1_mean_baseline` (the train-mean mesh), `val/lmd`,
`val/lmd_mean_baseline`. The speakers' SpeakerInfo (statistics, camera) is stored in the checkpoint
(talkzoo.lightning_modules.speaker_module).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from talkzoo.datamodules.batches import MotionBatch
from talkzoo.lightning_modules.ddp import allow_two_backward_passes
from talkzoo.lightning_modules.media import MotionMedia
from talkzoo.lightning_modules.motion_speaker_module import MotionSpeakerModule, masked_mean
from talkzoo.lightning_modules.step_logging import log_step_scalars
from talkzoo.zoo.face_indices import EYE_INDICES, LIP_INDICES
from talkzoo.zoo.head_motion import head_motion_to_pose
from talkzoo.zoo.metrics import landmark_distance, mouth_opening, project_points
from talkzoo.zoo.moda import smooth_time

_SUMS = ("l1", "l1_base", "lmd", "lmd_base", "frames")


class FaCoNet(MotionSpeakerModule):
    """MODA's facial composer with an injected generator and (optional) discriminator.

    Args:
        generator: (lips, eyes, subject) → dense offsets (`talkzoo.zoo.faconet.FaCoGenerator`).
        discriminator: (lips, eyes, dense, subject) → [B, T, 1] (`zoo.faconet.PointDiscriminator`) or None (L1 only).
        l1_weight: λ_L1 (public code 100, paper text 10; 100 is the default here — see docs/moda.md).
        gan_weight: weight of the generator's LSGAN term (1).
        lr, betas: Adam for both networks (1e-3, (0.5, 0.999)); cosine to 0 over the run.
        nonsemantic_smoothing: Gaussian sigma (frames) applied at inference to the points outside lips and eyes
            (MODA: 5; 0 = off).
    """

    label = "FaCo-Net"

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module | None = None,
        l1_weight: float = 100.0,
        gan_weight: float = 1.0,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.5, 0.999),
        nonsemantic_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["generator", "discriminator"])  # rebuilt from the run's config.yaml
        self.automatic_optimization = False
        self.generator = generator
        self.discriminator = discriminator
        self._sums: dict[str, float] = {}
        self._media: MotionMedia | None = None

    # ---- data-dependent state (SpeakerModule: stored in the checkpoint) --------------------------------------
    def setup(self, stage: str) -> None:
        if self._trainer is not None and self.discriminator is not None:
            allow_two_backward_passes(self.trainer)
        super().setup(stage)

    # ---- model ------------------------------------------------------------------------------------------------
    def forward(self, lips: torch.Tensor, eyes: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Normalised lips [B, T, 40, 3], eyes [B, T, 60, 3], subject [B, 478, 3] → normalised mesh [B, T, 478, 3]."""
        return self.generator(lips, eyes, subject)

    @torch.inference_mode()
    def compose(self, lips: torch.Tensor, eyes: torch.Tensor, speaker: int = 0, chunk: int = 4096) -> torch.Tensor:
        """Inference: lips [T, 40, 3], eyes [T, 60, 3] in the speaker's canonical units → the dense canonical mesh
        [T, 478, 3] (CPU float32), in chunks of `chunk` frames; non-semantic points smoothed when configured."""
        if not self.speakers:
            raise RuntimeError("FaCoNet has no speaker statistics: train it or load a checkpoint saved by training")
        stats = self.speaker_stats[speaker]
        subject = torch.from_numpy(stats.subject_code()).to(self.device)[None]
        lips_n = torch.as_tensor(stats.normalise("lips", np.asarray(lips, dtype=np.float32)))
        eyes_n = torch.as_tensor(stats.normalise("eyes", np.asarray(eyes, dtype=np.float32)))
        was_training = self.training
        if was_training:  # a stream composes one frame at a time: no mode switch per call when already in eval
            self.eval()
        parts = []
        try:
            for s in range(0, lips_n.shape[0], chunk):
                lips_s, eyes_s = (
                    lips_n[None, s : s + chunk].to(self.device),
                    eyes_n[None, s : s + chunk].to(self.device),
                )
                parts.append(self(lips_s, eyes_s, subject)[0].float().cpu())
        finally:
            if was_training:
                self.train()
        mesh = torch.cat(parts) if parts else torch.zeros(0, 478, 3)
        sigma = float(self.hparams.nonsemantic_smoothing)
        if sigma > 0:
            other = sorted(set(range(mesh.shape[1])) - set(LIP_INDICES) - set(EYE_INDICES))
            mesh[:, other] = smooth_time(mesh[:, other], sigma)
        return torch.as_tensor(stats.denormalise("mesh", mesh))

    # ---- training ---------------------------------------------------------------------------------------------
    def training_step(self, batch: MotionBatch, batch_idx: int) -> torch.Tensor:
        hp = self.hparams
        optimizers = self.optimizers()
        opt_g, opt_d = (optimizers, None) if self.discriminator is None else optimizers
        mask = batch["mask"].float()
        lips, eyes, subject, real = batch["lips"], batch["eyes"], batch["subject"], batch["mesh"]
        fake = self(lips, eyes, subject)
        size = mask.shape[0]
        terms: dict[str, torch.Tensor] = {}
        if opt_d is not None:
            d_real = self.discriminator(lips, eyes, real, subject)[..., 0]
            d_fake = self.discriminator(lips, eyes, fake.detach(), subject)[..., 0]
            loss_d = 0.5 * (masked_mean((d_real - 1).square(), mask) + masked_mean(d_fake.square(), mask))
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(loss_d)
            opt_d.step()
            terms["d_loss"] = loss_d.detach()
        terms["l1"] = masked_mean((fake - real).abs().flatten(2).mean(-1), mask)
        loss = hp.l1_weight * terms["l1"]
        if opt_d is not None:
            self.discriminator.requires_grad_(False)
            terms["gan"] = masked_mean((self.discriminator(lips, eyes, fake, subject)[..., 0] - 1).square(), mask)
            loss = loss + hp.gan_weight * terms["gan"]
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        if opt_d is not None:
            self.discriminator.requires_grad_(True)
        opt_g.step()
        schedulers = self.lr_schedulers()
        for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
            scheduler.step()
        logs = {"train/loss": loss.detach(), **{f"train/{key}": value for key, value in terms.items()}}
        log_step_scalars(self, logs, batch_size=size, prog_bar_keys=("train/loss",))
        return loss.detach()

    # ---- validation -------------------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._sums = dict.fromkeys(_SUMS, 0.0)
        self._media = None

    def validation_step(self, batch: MotionBatch, batch_idx: int) -> None:
        mask = batch["mask"].float()
        pred = self(batch["lips"], batch["eyes"], batch["subject"])
        l1 = masked_mean((pred - batch["mesh"]).abs().flatten(2).mean(-1), mask)
        self.log("val/l1_normalised", l1, prog_bar=True, sync_dist=True, batch_size=mask.shape[0])
        if self.speaker_stats:
            self._accumulate(pred, batch)

    def _accumulate(self, pred: torch.Tensor, batch: MotionBatch) -> None:
        sums = self._sums
        for b in range(pred.shape[0]):
            valid = batch["mask"][b]
            if not bool(valid.any()):
                continue
            speaker = int(batch["speaker_index"][b])
            stats, camera, fps = self.speaker_stats[speaker], self.speakers[speaker].camera, self.speakers[speaker].fps
            fake = stats.denormalise("mesh", pred[b][valid].float())
            true = stats.denormalise("mesh", batch["mesh"][b][valid].float())
            base = stats.denormalise("mesh", torch.zeros_like(true))
            sums["l1"] += float((fake - true).abs().mean(dim=(1, 2)).sum())
            sums["l1_base"] += float((base - true).abs().mean(dim=(1, 2)).sum())
            head = stats.denormalise("head", batch["head"][b][valid].float().cpu().numpy())
            pose = torch.from_numpy(head_motion_to_pose(head)).to(fake.device)
            f, cx, cy = camera.focal, camera.cx, camera.cy
            true_px = project_points(true, pose, f, cx, cy)
            sums["lmd"] += float(landmark_distance(project_points(fake, pose, f, cx, cy), true_px).sum())
            sums["lmd_base"] += float(landmark_distance(project_points(base, pose, f, cx, cy), true_px).sum())
            sums["frames"] += float(true.shape[0])
            if self._media is None:
                self._keep_media(project_points(fake, pose, f, cx, cy), true_px, float(fps))

    def _keep_media(self, pred_px: torch.Tensor, true_px: torch.Tensor, fps: float) -> None:
        """The first val clip's lips (≤ 250 frames) from the composed dense mesh, for `validation_media`."""
        lips = list(LIP_INDICES)
        pred, true = pred_px[:250, lips].float(), true_px[:250, lips].float()
        self._media = {
            "kind": "motion",
            "fps": fps,
            "lips_pred": pred.cpu().numpy(),
            "lips_true": true.cpu().numpy(),
            "mouth_pred": mouth_opening(pred).cpu().numpy().astype(np.float32),
            "mouth_true": mouth_opening(true).cpu().numpy().astype(np.float32),
        }

    def validation_media(self) -> MotionMedia | None:
        """The first val clip as kind "motion" (lips of the composed mesh vs the truth, pixels; mouth opening)."""
        return self._media

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self._sums:
            return
        values = torch.tensor([self._sums[k] for k in _SUMS], dtype=torch.float64, device=self.device)
        s = dict(zip(_SUMS, self.trainer.strategy.reduce(values, reduce_op="sum").tolist(), strict=True))
        n = s["frames"]
        if n > 0:
            self.log("val/l1", s["l1"] / n)
            self.log("val/l1_mean_baseline", s["l1_base"] / n)
            self.log("val/lmd", s["lmd"] / n, prog_bar=True)
            self.log("val/lmd_mean_baseline", s["lmd_base"] / n)

    # ---- optimisation -----------------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        hp = self.hparams
        betas = tuple(hp.betas)
        optimizers = [torch.optim.Adam(self.generator.parameters(), lr=hp.lr, betas=betas)]
        if self.discriminator is not None:
            optimizers.append(torch.optim.Adam(self.discriminator.parameters(), lr=hp.lr, betas=betas))
        batches = max(1, int(self.trainer.estimated_stepping_batches))
        if self.trainer.max_steps and self.trainer.max_steps > 0:
            batches = max(1, batches // len(optimizers))  # max_steps counts every optimizer's steps

        def factor(step: int) -> float:
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / batches)))

        return optimizers, [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in optimizers]

"""ER-NeRF head stage (docs/ernerf.md): one frame per step, rays through the head's NeRF box, the head
composited over the frame's ground-truth torso + background.

Batches: `talkzoo.datamodules.batches.FrameBatch` (FrameDataModule, batch_size 1): image [1,3,H,W], torso
[1,4,H,W], background [1,3,H,W], parsing [1,H,W], pose [1,4,4] head→camera, intrinsics [1,4], blink [1], landmarks
[1,478,3], audio [1,8,K,D], index [1]. The head's box scale comes from the speaker's mean canonical mesh (SpeakerInfo,
handed over in `setup`) and is a buffer of the checkpoint.

Stages: coarse (random rays, MSE + uncertainty + ambient regularisers) and, once `CoarseToFineLPIPS` switches the
module (`enable_lpips`), fine (alternating lips-rectangle and random-patch batches with LPIPS 0.01 / 0.1).
Fixes of ER-NeRF's quirks (docs/ernerf.md, "Quirks" #5, #1, #3): truncated exp density, no ray dropping, no silent
weight decay on the hash grids (`grid_weight_decay`, 0 by default). EMA weights for validation, as ER-NeRF
(talkzoo.callbacks.ema.EMA).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torchmetrics.functional.image import structural_similarity_index_measure

from talkzoo.datamodules.batches import FrameBatch
from talkzoo.datamodules.speaker_info import SpeakerInfo
from talkzoo.lightning_modules.media import FramesMedia
from talkzoo.lightning_modules.speaker_module import SpeakerModule
from talkzoo.lightning_modules.step_logging import log_step_scalars
from talkzoo.zoo.ernerf.head_field import HeadField
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.face_indices import LIP_INDICES
from talkzoo.zoo.losses.lpips import LPIPS, LPIPSWeightsUnavailable
from talkzoo.zoo.metrics.image_mouth import ImageMouthMetrics
from talkzoo.zoo.rendering.rays import box_scale, camera_rays, pixel_grid
from talkzoo.zoo.rendering.samplers import GridSampler, TorchGridSampler
from talkzoo.zoo.rendering.volume import composite, over, render_rays


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    """float [3, H, W] in [0, 1] → uint8 [H, W, 3]."""
    return (image.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


class ERNeRFHead(SpeakerModule):
    """The ER-NeRF head LightningModule.

    Args:
        field: the head field network (talkzoo.zoo.ernerf.HeadField).
        sampler: occupancy-grid sampler (talkzoo.zoo.rendering.GridSampler; backend 'auto' = nerfacc on CUDA).
        rays_per_step: rays per training step on CUDA (ER-NeRF: 65,536). cpu_rays_per_step: on CPU.
        cpu_update_cells: on CPU, evaluate at most this many random grid cells per occupancy update (None = all).
        patch_size: side of the random LPIPS patches in the fine stage (32).
        lr, lr_net, lr_att: learning rates of the hash grids, the networks, the audio attention (1e-2, 1e-3, 5e-3).
        betas, eps: AdamW (ER-NeRF: (0, 0.99), 1e-8). grid_weight_decay: 0 (ER-NeRF silently used 0.01).
        lr_decay: factor reached at `max_steps` (0.5**(step/iters), as ER-NeRF's `main.py`).
        uncertainty: use the uncertainty re-weighting / NLL terms in the coarse stage.
        entropy_weight, amb_weight: 1e-4 each. lips_lpips_weight, patch_lpips_weight: 0.01 and 0.1.
        box_margin: head box = margin × the canonical mesh's radius (see talkzoo.zoo.rendering.rays.box_scale).
        eye_noise: U(−n, n) added to the blink value in training (0.05).
        val_chunk: rays per chunk for full-frame renders.
        face_ray_fraction: share of the coarse-stage rays drawn inside the face rectangle (landmark bounding box)
            instead of the whole frame. 0 = ER-NeRF (uniform); the CPU preset uses 0.5 so that the mouth, ~1 % of
            the pixels, gets enough rays within a short budget.
        lips_ray_fraction: share of the coarse-stage rays drawn inside the lips rectangle (the fine stage's lips
            batch, `_lips_rect`), taken from the face rays' share when both are set. 0 = ER-NeRF (the lips get
            their own batches only in the fine stage).
        val_lpips: report val/lpips from the start when the LPIPS weights exist (else from the fine stage on, if
            ever; a missing backbone is reported once, never faked).
        val_mouth_metrics: MediaPipe lip points on each render and its ground truth → val/mouth_lmd (px),
            val/mouth_corr (mouth opening, render vs truth), val/mouth_found (detection rate).
        val_media_frames: val frames kept for `validation_media()` (talkzoo.callbacks.media_logger.ValidationMedia).
    """

    def __init__(
        self,
        field: HeadField,
        sampler: GridSampler | None = None,
        rays_per_step: int = 65536,
        cpu_rays_per_step: int = 1024,
        cpu_update_cells: int | None = 32768,
        patch_size: int = 32,
        lr: float = 1e-2,
        lr_net: float = 1e-3,
        lr_att: float = 5e-3,
        betas: tuple[float, float] = (0.0, 0.99),
        eps: float = 1e-8,
        grid_weight_decay: float = 0.0,
        lr_decay: float = 0.5,
        uncertainty: bool = True,
        entropy_weight: float = 1e-4,
        amb_weight: float = 1e-4,
        lips_lpips_weight: float = 0.01,
        patch_lpips_weight: float = 0.1,
        box_margin: float = 1.6,
        eye_noise: float = 0.05,
        val_chunk: int = 4096,
        face_ray_fraction: float = 0.0,
        lips_ray_fraction: float = 0.0,
        val_lpips: bool = True,
        val_mouth_metrics: bool = True,
        val_media_frames: int = 8,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["field", "sampler"])
        self.field = field
        self.sampler = sampler if sampler is not None else TorchGridSampler()
        self.register_buffer("box_scale", torch.zeros(()))  # set from the speaker's canonical mesh in setup
        self.register_buffer("fine_stage", torch.zeros((), dtype=torch.bool))  # persisted LPIPS stage flag
        self.lpips: torch.nn.Module | None = None
        self.lpips_ready = False  # the fine stage is configured in this process (protocols.LPIPSStages)
        self._val_lpips: list[torch.nn.Module | None] = []  # lazily built metric (a list: not a submodule)
        self._mouth: Any = None
        self._media: dict[str, list[Any]] = {}

    # ----------------------------------------------------------------------------------------------- setup
    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self._trainer is not None and float(self.box_scale) <= 0:
            raise UserError(
                "ERNeRFHead needs the speaker's canonical head mesh for its NeRF box: train it on a FrameDataModule"
            )

    def set_speakers(self, speakers: Sequence[SpeakerInfo]) -> None:
        """The one speaker of this NeRF; the box scale comes from its mean canonical mesh, once (a trained head keeps
        the box it was trained in)."""
        if len(speakers) > 1:
            raise UserError(f"ERNeRFHead models one speaker; the data gives {len(speakers)}")
        for info in speakers:
            if info.mean_canonical is None:
                raise UserError(f"speaker {info.name} has no canonical.npy; re-run `talkzoo preprocess`")
            if float(self.box_scale) <= 0:
                self.set_box_scale(info.mean_canonical)
        super().set_speakers(speakers)

    def set_box_scale(self, canonical: Any) -> None:
        """Set the box scale from a canonical mesh [..., P, 3] (for use outside a Trainer)."""
        self.box_scale.fill_(box_scale(canonical, self.hparams.box_margin))

    def enable_lpips(self, lpips: torch.nn.Module | None) -> None:
        """Switch to the fine stage: patch / lips batches; LPIPS terms when `lpips` is given (else MSE only)."""
        self.fine_stage.fill_(True)
        self.lpips = lpips
        self.lpips_ready = True

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        state = super().state_dict(*args, **kwargs)
        prefix = kwargs.get("prefix", "")
        return {k: v for k, v in state.items() if not k.startswith(prefix + "lpips.")}  # frozen, rebuilt

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        state = {k: v for k, v in state_dict.items() if not k.startswith("lpips.")}
        return super().load_state_dict(state, strict=False if self.lpips is not None else strict, assign=assign)

    # ------------------------------------------------------------------------------------------- rendering
    def _conditioning(self, batch: FrameBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Audio code [1, A], eye [1, 1], individual code [1, C] of the batch's (single) frame."""
        audio = self.field.encode_audio(batch["audio"])
        eye = batch["blink"].reshape(1, 1).float()
        index = batch["index"].reshape(1) if self.training else None
        return audio, eye, self.field.code(index)

    def render(
        self,
        batch: FrameBatch,
        pixels: torch.Tensor,
        conditioning: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Render the head at pixels [N, 2] (u, v) of the batch's frame → render_rays' outputs (per ray)."""
        audio, eye, code = conditioning if conditioning is not None else self._conditioning(batch)
        with torch.autocast(device_type=self.device.type, enabled=False):  # rays and marching in fp32
            pose, intrinsics = batch["pose"][:1].float(), batch["intrinsics"][:1].float()
            rays_o, rays_d = camera_rays(pose, intrinsics, pixels[None].float(), self.box_scale.float())
            rays_o, rays_d = rays_o[0].contiguous(), rays_d[0].contiguous()
            samples = self.sampler.sample(rays_o, rays_d, stratified=self.training)
        noise = self.hparams.eye_noise if self.training else 0.0
        unc = self.training and self.hparams.uncertainty and not bool(self.fine_stage)

        def field_fn(x: torch.Tensor, d: torch.Tensor, ray_indices: torch.Tensor) -> dict[str, torch.Tensor]:
            e = eye + (torch.rand(x.shape[0], 1, device=x.device) * 2 - 1) * noise if noise else eye
            return self.field(x, d, audio, e, code, uncertainty=unc)

        return render_rays(samples, rays_o, rays_d, field_fn)

    @torch.no_grad()
    def render_frame(self, batch: FrameBatch) -> dict[str, torch.Tensor]:
        """Full-frame render of the batch's first frame in chunks → image [3, H, W] (head over GT torso + bg),
        opacity [H, W], depth [H, W]."""
        height, width = batch["image"].shape[-2:]
        pixels = pixel_grid(height, width, self.device)
        conditioning = self._conditioning(batch)
        parts: dict[str, list[torch.Tensor]] = {"color": [], "opacity": [], "depth": []}
        for chunk in pixels.split(self.hparams.val_chunk):
            out = self.render(batch, chunk, conditioning)
            for name in parts:
                parts[name].append(out[name])
        bg = self._backdrop(batch)[0].permute(1, 2, 0).reshape(-1, 3)
        color, opacity = torch.cat(parts["color"]), torch.cat(parts["opacity"])
        image = composite(color, opacity, bg).reshape(height, width, 3).permute(2, 0, 1)
        return {
            "image": image,
            "opacity": opacity.reshape(height, width),
            "depth": torch.cat(parts["depth"]).reshape(height, width),
        }

    @staticmethod
    def _backdrop(batch: FrameBatch) -> torch.Tensor:
        """GT torso over the background: [B, 3, H, W] (what the head is composited over)."""
        return over(batch["torso"].movedim(1, -1), batch["background"].movedim(1, -1)).movedim(-1, 1)

    # -------------------------------------------------------------------------------------------- training
    def _rays_per_step(self) -> int:
        return self.hparams.rays_per_step if self.device.type == "cuda" else self.hparams.cpu_rays_per_step

    def _lips_rect(self, landmarks: torch.Tensor, height: int, width: int) -> tuple[int, int, int, int]:
        """Square lips rectangle (row0, row1, col0, col1), side ≥ patch_size where the image allows."""
        lips = landmarks[list(LIP_INDICES), :2]
        (c0, r0), (c1, r1) = lips.min(dim=0).values.tolist(), lips.max(dim=0).values.tolist()
        side = max(r1 - r0, c1 - c0, float(min(self.hparams.patch_size, height, width)))
        half = side / 2
        rc, cc = (r0 + r1) / 2, (c0 + c1) / 2
        row0 = int(min(max(round(rc - half), 0), height - round(side)))
        col0 = int(min(max(round(cc - half), 0), width - round(side)))
        side_i = int(round(side))
        return row0, min(row0 + side_i, height), col0, min(col0 + side_i, width)

    def _pixels(self, batch: FrameBatch) -> tuple[torch.Tensor, tuple[int, int] | None]:
        """Pixels [N, 2] (u, v) for this step and, for patch batches, the patch shape (rows, cols) of N."""
        height, width = batch["image"].shape[-2:]
        n = self._rays_per_step()
        if not bool(self.fine_stage):
            u = torch.randint(0, width, (n,), device=self.device)
            v = torch.randint(0, height, (n,), device=self.device)
            n_face = int(round(n * self.hparams.face_ray_fraction))
            n_lips = min(int(round(n * self.hparams.lips_ray_fraction)), n)
            if n_face > 0:
                lm = batch["landmarks"][0, :, :2]
                (c0, r0), (c1, r1) = lm.min(dim=0).values.tolist(), lm.max(dim=0).values.tolist()
                c0, r0 = max(int(c0), 0), max(int(r0), 0)
                c1, r1 = min(int(c1) + 1, width), min(int(r1) + 1, height)
                if c1 > c0 and r1 > r0:
                    u[:n_face] = torch.randint(c0, c1, (n_face,), device=self.device)
                    v[:n_face] = torch.randint(r0, r1, (n_face,), device=self.device)
            if n_lips > 0:
                r0, r1, c0, c1 = self._lips_rect(batch["landmarks"][0], height, width)
                u[:n_lips] = torch.randint(c0, c1, (n_lips,), device=self.device)
                v[:n_lips] = torch.randint(r0, r1, (n_lips,), device=self.device)
            return torch.stack((u, v), dim=-1).float(), None
        if self.global_step % 2 == 0:  # lips rectangle (ER-NeRF's first fine batch)
            r0, r1, c0, c1 = self._lips_rect(batch["landmarks"][0], height, width)
            v, u = torch.meshgrid(
                torch.arange(r0, r1, device=self.device), torch.arange(c0, c1, device=self.device), indexing="ij"
            )
            return torch.stack((u.reshape(-1), v.reshape(-1)), dim=-1).float(), (r1 - r0, c1 - c0)
        p = min(self.hparams.patch_size, height, width)
        count = max(1, n // (p * p))
        r0 = torch.randint(0, height - p + 1, (count, 1, 1), device=self.device)
        c0 = torch.randint(0, width - p + 1, (count, 1, 1), device=self.device)
        dv, du = torch.meshgrid(torch.arange(p, device=self.device), torch.arange(p, device=self.device), indexing="ij")
        v, u = (r0 + dv).reshape(-1), (c0 + du).reshape(-1)
        return torch.stack((u, v), dim=-1).float(), (count * p, p)

    def _update_grid(self, batch: FrameBatch) -> None:
        """Occupancy upkeep before the step (every `update_every` steps), σ conditioned on this frame's audio/eye."""
        if self.global_step % self.sampler.update_every != 0:
            return
        audio, eye, _ = self._conditioning(batch)
        audio, eye = audio.detach(), eye.detach()

        def density(x: torch.Tensor) -> torch.Tensor:
            return self.field.density(x, audio, eye)["sigma"]

        limit = self.hparams.cpu_update_cells if self.device.type != "cuda" else None
        step = self.global_step
        with torch.no_grad():
            if limit is None or limit >= self.sampler.estimator.cells_per_lvl:
                self.sampler.update(step, density, force=True)
            else:
                self.sampler.update_subset(density, limit)

    def training_step(self, batch: FrameBatch, batch_idx: int) -> torch.Tensor:
        hp = self.hparams
        self._update_grid(batch)
        pixels, patch = self._pixels(batch)
        out = self.render(batch, pixels)
        u, v = pixels[:, 0].long(), pixels[:, 1].long()
        target = batch["image"][0][:, v, u].T  # [N, 3]
        backdrop = self._backdrop(batch)[0][:, v, u].T
        pred = composite(out["color"], out["opacity"], backdrop)
        per_ray = ((pred - target) ** 2).mean(dim=-1)  # [N]
        s = min(self.global_step / max(self._iters(), 1), 1.0)
        face = self._face_mask(batch, u, v)
        logs: dict[str, torch.Tensor] = {"train/mse": per_ray.mean().detach()}
        if hp.uncertainty and not bool(self.fine_stage):
            unc = out["unc"]
            n = per_ray.shape[0]
            weight = ((1 - s) + s * torch.softmax(unc.detach(), dim=0) * n).clamp(0, 10)
            per_ray = per_ray * (0.2 + 0.8 * weight)
            beta = unc + 1
            nll = (pred - target).norm(dim=-1).detach() / (2 * beta**2) + torch.log(beta) ** 2 / 2
            per_ray = per_ray + s * nll * face + 1e-3 * s * unc * (~face)
        loss = per_ray.mean()
        a = out["opacity"].clamp(1e-5, 1 - 1e-5)
        entropy = -(a * torch.log2(a) + (1 - a) * torch.log2(1 - a)).mean()
        loss = loss + hp.entropy_weight * entropy
        loss = loss + hp.amb_weight * s * (out["amb_aud"] * (~face)).mean()
        loss = loss + hp.amb_weight * s * ((out["amb_eye"] / 16) * out["amb_aud"].detach() * face).mean()
        if patch is not None and self.lpips is not None:
            rows, cols = patch
            img_p = pred.T.reshape(1, 3, rows, cols)
            img_t = target.T.reshape(1, 3, rows, cols)
            if self.global_step % 2 == 0:
                pad = (0, max(0, 32 - cols), 0, max(0, 32 - rows))
                lp = self.lpips(F.pad(img_p, pad), F.pad(img_t, pad)).mean()
                loss = loss + hp.lips_lpips_weight * lp
            else:
                p = cols
                img_p = img_p.reshape(3, -1, p, p).transpose(0, 1)
                img_t = img_t.reshape(3, -1, p, p).transpose(0, 1)
                lp = self.lpips(img_p, img_t).mean()
                loss = loss + hp.patch_lpips_weight * lp
            logs["train/lpips"] = lp.detach()
        logs.update({"train/loss": loss.detach(), "train/samples_per_ray": torch.tensor(out["samples"] / len(u))})
        logs["train/fine_stage"] = self.fine_stage.float()
        log_step_scalars(self, logs, batch_size=1)
        return loss

    def _face_mask(self, batch: FrameBatch, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Rays inside the landmark bounding box (ER-NeRF's face_rect) → bool [N]."""
        lm = batch["landmarks"][0, :, :2]
        (c0, r0), (c1, r1) = lm.min(dim=0).values, lm.max(dim=0).values
        return (v >= r0) & (v < r1) & (u >= c0) & (u < c1)

    def _iters(self) -> int:
        steps = self.trainer.max_steps if self._trainer is not None else -1
        return steps if steps and steps > 0 else 100000

    # ------------------------------------------------------------------------------------------ validation
    def _lpips_metric(self) -> torch.nn.Module | None:
        """The training LPIPS once switched on, else (val_lpips) one built on first use; None without weights."""
        if self.lpips is not None:
            return self.lpips
        if not self.hparams.val_lpips:
            return None
        if not self._val_lpips:
            try:
                self._val_lpips.append(LPIPS().to(self.device).eval())
            except LPIPSWeightsUnavailable as error:
                rank_zero_warn(f"ERNeRFHead: val/lpips not reported: {error}")
                self._val_lpips.append(None)
        return self._val_lpips[0]

    def on_validation_epoch_start(self) -> None:
        self._mouth = ImageMouthMetrics() if self.hparams.val_mouth_metrics else None
        self._media = {"render": [], "target": [], "depth": [], "opacity": []}

    def validation_step(self, batch: FrameBatch, batch_idx: int) -> None:
        out = self.render_frame(batch)
        image, target = out["image"], batch["image"][0]
        head = batch["parsing"][0] == 1 if "parsing" in batch else torch.ones_like(image[0], dtype=torch.bool)
        mse = ((image - target) ** 2).mean()
        mse_head = ((image - target) ** 2).mean(dim=0)[head].mean() if head.any() else mse
        ssim = structural_similarity_index_measure(image[None], target[None], data_range=1.0)
        metrics = {
            "val/psnr": -10 * torch.log10(mse.clamp_min(1e-10)),
            "val/psnr_head": -10 * torch.log10(mse_head.clamp_min(1e-10)),
            "val/ssim": ssim,
        }
        lpips = self._lpips_metric()
        if lpips is not None:
            metrics["val/lpips"] = lpips(image[None], target[None]).mean()
        self.log_dict(metrics, batch_size=1, prog_bar=True)
        render_u8, target_u8 = _to_uint8(image), _to_uint8(target)
        if self._mouth is not None:
            self._mouth.add(render_u8, target_u8)
        if len(self._media.get("render", [])) < self.hparams.val_media_frames:
            self._media["render"].append(render_u8)
            self._media["target"].append(target_u8)
            self._media["depth"].append(out["depth"].float().cpu().numpy())
            self._media["opacity"].append(out["opacity"].float().cpu().numpy())

    def on_validation_epoch_end(self) -> None:
        if self._mouth is None:
            return
        sums = self.trainer.strategy.reduce(self._mouth.sums().to(self.device), reduce_op="sum")
        self._mouth.close()
        self._mouth = None
        if not self.trainer.sanity_checking:
            values = ImageMouthMetrics.compute(sums.cpu())
            self.log_dict({f"val/{k}": v for k, v in values.items()}, batch_size=1)

    def validation_media(self) -> FramesMedia | None:
        """The first val frames (talkzoo.callbacks.media_logger protocol, kind "frames"): render / target uint8
        [N, H, W, 3], depth / opacity float32 [N, H, W]."""
        if not self._media.get("render"):
            return None
        fps = float(self.speakers[0].fps) if self.speakers else 25.0
        media: dict[str, Any] = {k: np.stack(v) for k, v in self._media.items()}
        return {"kind": "frames", "fps": fps, **media}

    # ------------------------------------------------------------------------------------------ optimiser
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        grids = list(self.field.encoder.parameters())
        att = list(self.field.audio_att_net.parameters()) if self.field.audio_att_net is not None else []
        taken = {id(p) for p in grids + att}
        nets = [p for p in self.field.parameters() if id(p) not in taken]
        groups = [
            {"params": grids, "lr": hp.lr, "weight_decay": hp.grid_weight_decay},
            {"params": nets, "lr": hp.lr_net, "weight_decay": 0.0},
        ]
        if att:
            groups.append({"params": att, "lr": hp.lr_att, "weight_decay": 1e-4})
        optimizer = torch.optim.AdamW(groups, betas=tuple(hp.betas), eps=hp.eps)
        iters = self._iters()
        decay = math.log(hp.lr_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: math.exp(decay * step / iters))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

"""The common machinery of TalkingGaussian's two branch stages (mouth and face; docs/talkinggaussian.md): one
Gaussian set + its motion network, one frame per step, a static warm-up, densification with optimizer surgery,
SH degree growth, the curricula (through the DataModule's CurriculumSampler) and region validation.

Batches: `talkzoo.datamodules.talkinggaussian.TalkingGaussianDataModule` (batch_size 1): FrameDataModule's entries
(image, parsing, pose, intrinsics, blink, audio, index, ...) + mouth_mask [1, H, W], lips_rect [1, 4],
mouth_opening [1].

Steps follow the original's 1-based iterations: iteration = global_step + 1. Under DDP the Gaussians (whose number
changes) are hidden from DDP's gradient sync and averaged here, densification statistics are summed over the
processes and splits draw from a generator seeded by the step, so every process keeps the same Gaussians.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from talkzoo.datamodules.curriculum import CurriculumSpec
from talkzoo.datamodules.speaker_info import SpeakerInfo
from talkzoo.datamodules.talkinggaussian import GaussianInitSource, MouthRegionDataset
from talkzoo.lightning_modules.speaker_module import SpeakerModule
from talkzoo.lightning_modules.step_logging import log_step_scalars
from talkzoo.lightning_modules.talkinggaussian_common import (
    LazyLPIPS,
    all_reduce_,
    average_gradients,
    check_same_across_processes,
    distributed_world,
    expression,
    frame_camera,
    optimizer_groups_by_name,
    to_uint8,
)
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.talkinggaussian.branch import Deformed, GaussianBranch
from talkzoo.zoo.talkinggaussian.camera import Camera, HeadSpace
from talkzoo.zoo.talkinggaussian.densify import DensifyConfig, DensifyStats, densify_and_prune, prune, suppress
from talkzoo.zoo.talkinggaussian.gaussians import ATTRIBUTES
from talkzoo.zoo.talkinggaussian.init_points import backproject_region, cube_points
from talkzoo.zoo.talkinggaussian.motion import FaceMotionNet, MouthMotionNet
from talkzoo.zoo.talkinggaussian.raster_types import RasterOutput, RasterSettings

GAUSSIAN_GROUPS = ("xyz", "f_dc", "f_rest", "opacity", "scaling", "rotation")
MOTION_GROUPS = ("grid", "nets", "att")


class GaussianBranchStage(SpeakerModule):
    """Base of TalkingGaussianMouth and TalkingGaussianFace (subclasses set `region` and implement `branch_loss`).

    Args:
        motion: the branch's motion network (FaceMotionNet or MouthMotionNet).
        sh_degree: SH degree of the colours (2). mesh_radius: the canonical mesh's radius in world units (0.09;
            talkzoo.zoo.talkinggaussian.camera.HeadSpace).
        init_mode: "speaker" (coloured point cloud back-projected from training frames) or "cube" (the original's
            uniform cube of ±init_cube, grey). init_num: initial Gaussians. init_frames: frames they come from.
        init_opacity: 0.1. init_depth_jitter: std of the depth jitter (world units). init_cube: half size (0.1).
        warm_step: static 3DGS iterations before the motion network is used (3000).
        select_until, select_interval: the curriculum's end and period (TalkingGaussian's mouth_select_iter).
        freeze_step: after it the motion net and the geometry stop training and the background turns black
            (the mouth's bg_iter; None: never, as the face stage in effect).
        lr_horizon: motion LR multiplier 0.5^(it/select_until) until select_until, then 0.1^(it/lr_horizon).
        lpips_start: LPIPS terms from this iteration on (skipped, with one warning, without AlexNet weights).
        sh_up_interval: one SH degree more every N iterations (1000).
        densify_from, densify_until, densify_interval: densification window and period (500, …, 100).
        densify_grad_threshold: 5e-4 face, 2e-4 mouth. percent_dense: 0.005. min_opacity, min_opacity_rise: the
            prune threshold rises from min_opacity to min_opacity + rise over the densification window (0.05, 0.25).
        size_prune_from: screen/world size prune after this iteration (3000). max_screen_radius: 20 px (at 512²;
            scale it with the image). big_scale: world prune at big_scale · extent (0.1).
        max_points: cap on the number of Gaussians (None: none; CPU presets set one).
        green_threshold: (R <, G >, B <) of a background-green view colour (face 30/225/30, mouth 20/235/20 /255).
        position_lr, position_lr_final, position_lr_max_steps: xyz LR (× cameras extent), log-linear decay.
        feature_lr (f_rest: /20), opacity_lr, scaling_lr, rotation_lr: Adam (eps 1e-15) LRs of the Gaussians.
        grid_lr, net_lr, att_lr: AdamW (β 0.9/0.99) LRs of the tri-plane, the MLPs + AudioNet, the AudioAttNet.
        grid_weight_decay: AdamW's default 0.01 applies to the grids in the original (its groups set none).
        lambda_dssim: weight of 1 − SSIM (0.2). alpha_weight: the alpha-mask term (1e-3).
        patch_lpips_weight: weight of the patch LPIPS. patch_range: half patch sizes drawn uniformly (p = 2·U).
        background: training background colour (green, as the original). random_background: a uniformly random
            colour each training step instead (3DGS's --random_background; not in TalkingGaussian): against one
            constant colour, half-transparent Gaussians can tint themselves to match it, which shows once the branch
            is composited over the real backdrop (docs/talkinggaussian.md, "The hard speaker").
        raster_backend: auto | torch | gsplat.
        near, eps2d: rasteriser culling plane and low-pass dilation (0.2, 0.3).
        val_media_frames: val frames kept for talkzoo.callbacks.media_logger.ValidationMedia.
        init_seed: seeds the initial point cloud and the splits (the same on every process).
    """

    region = "face"

    def __init__(
        self,
        motion: FaceMotionNet | MouthMotionNet,
        sh_degree: int = 2,
        mesh_radius: float = 0.09,
        init_mode: str = "speaker",
        init_num: int = 2000,
        init_frames: int = 4,
        init_opacity: float = 0.1,
        init_depth_jitter: float = 0.005,
        init_cube: float = 0.1,
        warm_step: int = 3000,
        select_until: int = 40000,
        select_interval: int = 15,
        freeze_step: int | None = None,
        lr_horizon: int = 50000,
        lpips_start: int = 47000,
        sh_up_interval: int = 1000,
        densify_from: int = 500,
        densify_until: int = 49000,
        densify_interval: int = 100,
        densify_grad_threshold: float = 5e-4,
        percent_dense: float = 0.005,
        min_opacity: float = 0.05,
        min_opacity_rise: float = 0.25,
        size_prune_from: int = 3000,
        max_screen_radius: float = 20.0,
        big_scale: float = 0.1,
        max_points: int | None = None,
        green_threshold: tuple[float, float, float] = (30 / 255, 225 / 255, 30 / 255),
        position_lr: float = 1.6e-4,
        position_lr_final: float = 1.6e-6,
        position_lr_max_steps: int = 45000,
        feature_lr: float = 2.5e-3,
        opacity_lr: float = 0.05,
        scaling_lr: float = 3e-3,
        rotation_lr: float = 1e-3,
        grid_lr: float = 5e-3,
        net_lr: float = 5e-4,
        att_lr: float = 2.5e-3,
        grid_weight_decay: float = 0.01,
        lambda_dssim: float = 0.2,
        alpha_weight: float = 1e-3,
        patch_lpips_weight: float = 0.2,
        patch_range: tuple[int, int] = (32, 48),
        background: tuple[float, float, float] = (0.0, 1.0, 0.0),
        random_background: bool = False,
        raster_backend: str = "auto",
        near: float = 0.2,
        eps2d: float = 0.3,
        val_media_frames: int = 8,
        init_seed: int = 0,
    ) -> None:
        super().__init__()
        if init_mode not in ("speaker", "cube"):
            raise ValueError(f"init_mode must be 'speaker' or 'cube', got {init_mode!r}")
        self.save_hyperparameters(ignore=["motion"])
        self.branch = GaussianBranch(motion, sh_degree)
        self.head = HeadSpace(mesh_radius)
        self.register_buffer("extent", torch.zeros(()))
        # DDP must not sync (or even see) the Gaussians: their number changes; average_gradients does it instead.
        self._ddp_params_and_buffers_to_ignore = [f"branch.gaussians.{name}" for name in ATTRIBUTES]
        self.raster = RasterSettings(near=near, eps2d=eps2d)
        self.stats: DensifyStats | None = None
        self._last: tuple[RasterOutput, Camera] | None = None
        self._lpips = LazyLPIPS(type(self).__name__)
        self._media: dict[str, list[np.ndarray]] = {}

    # ------------------------------------------------------------------------------------------------ setup
    def sampling_curriculum(self) -> CurriculumSpec:
        """The frame-sampling curriculum the DataModule's CurriculumSampler applies (datamodules/curriculum.py)."""
        hp = self.hparams
        return CurriculumSpec(self.region, hp.warm_step, hp.select_until, hp.select_interval)

    def setup(self, stage: str) -> None:
        super().setup(stage)  # the speaker's SpeakerInfo (→ the head space), stored in the checkpoints
        if self._trainer is None:
            return
        datamodule = self.trainer.datamodule
        if not isinstance(datamodule, GaussianInitSource):
            raise UserError(
                f"{type(self).__name__} needs data.class_path talkzoo.datamodules.talkinggaussian."
                "TalkingGaussianDataModule (it provides the mouth masks and the curricula)"
            )
        if not self.head.ready:
            raise UserError(f"{type(self).__name__}: the data gave no speaker with a canonical mesh")
        if float(self.extent) <= 0:
            self.extent.fill_(self.head.cameras_extent(datamodule.train_poses()))
        if self.branch.gaussians.num_points == 0:
            self.initialize_gaussians(datamodule.init_dataset())

    def set_speakers(self, speakers: Sequence[SpeakerInfo]) -> None:
        """The one speaker of this branch; the head space comes from its mean canonical mesh, once (a trained
        branch keeps the space it was trained in)."""
        if len(speakers) > 1:
            raise UserError(f"{type(self).__name__} models one speaker; the data gives {len(speakers)}")
        for info in speakers:
            if info.mean_canonical is None:
                raise UserError(f"speaker {info.name} has no canonical.npy; re-run `talkzoo preprocess`")
            if not self.head.ready:
                self.head.fit(info.mean_canonical)
        super().set_speakers(speakers)

    @torch.no_grad()
    def initialize_gaussians(self, dataset: MouthRegionDataset) -> None:
        """Place init_num Gaussians (init_mode "speaker": back-projected region pixels; "cube": the original)."""
        hp = self.hparams
        generator = torch.Generator().manual_seed(hp.init_seed)
        if hp.init_mode == "cube":
            self.branch.gaussians.initialize(cube_points(hp.init_num, hp.init_cube, generator), None, hp.init_opacity)
            return
        indices = self.init_frame_indices(dataset)
        points, colors = [], []
        for k, i in enumerate(indices):
            item = dataset[i]
            batch = {key: value[None] for key, value in item.items() if torch.is_tensor(value)}
            camera = frame_camera(self.head, batch)
            mesh = self.head.to_world(torch.from_numpy(dataset.canonical(i)).float())
            count = hp.init_num // len(indices) + (1 if k < hp.init_num % len(indices) else 0)
            p, c = backproject_region(
                item["image"], self.init_region(item), camera, mesh, count, generator,
                depth_jitter=hp.init_depth_jitter, **self.init_depth_options(),
            )  # fmt: skip
            points.append(p)
            colors.append(c)
        points_t, colors_t = torch.cat(points), torch.cat(colors)
        if points_t.shape[0] == 0:
            raise UserError(
                f"{type(self).__name__}: the {self.region} region is empty in the initialisation frames; "
                "check the speaker's parsing / landmarks (talkzoo validate SPEAKER) or use init_mode: cube"
            )
        self.branch.gaussians.initialize(points_t, colors_t, hp.init_opacity)

    def init_frame_indices(self, dataset: MouthRegionDataset) -> list[int]:
        """Train items the initial point cloud comes from (evenly spaced; the mouth stage overrides)."""
        n = len(dataset)
        count = max(1, min(self.hparams.init_frames, n))
        return sorted({int(round(x)) for x in np.linspace(0, n - 1, count)})

    def init_region(self, item: dict[str, torch.Tensor]) -> torch.Tensor:
        """bool [H, W]: the pixels of the branch's region in one item."""
        raise NotImplementedError

    def init_depth_options(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------------------------------ rendering
    def iteration(self) -> int:
        return self.global_step + 1

    def background_color(self, iteration: int) -> torch.Tensor:
        black = self.hparams.freeze_step is not None and iteration > self.hparams.freeze_step
        if self.hparams.random_background and not black:
            return torch.rand(3, device=self.device)
        color = (0.0, 0.0, 0.0) if black else tuple(self.hparams.background)
        return torch.tensor(color, device=self.device)

    def deform(self, batch: dict[str, torch.Tensor], iteration: int | None) -> Deformed:
        """The frame's Gaussians; static (no motion net) before warm_step, except under DDP where the net runs with
        its offsets multiplied by 0 so that all its parameters take part in the step. iteration None: inference."""
        static = iteration is not None and iteration < self.hparams.warm_step
        if static and distributed_world() == 1:
            return self.branch.deform(None)
        expr = expression(batch) if self.branch.is_face else None
        return self.branch.deform(batch["audio"][:1], expr, gate=0.0 if static else 1.0)

    def render(
        self, batch: dict[str, torch.Tensor], iteration: int | None, background: torch.Tensor, attention: bool = False
    ) -> tuple[RasterOutput, Deformed, Camera]:
        camera = frame_camera(self.head, batch)
        deformed = self.deform(batch, iteration)
        features = None
        if attention and "ambient_aud" in deformed.motion:
            features = torch.stack((deformed.motion["ambient_aud"], deformed.motion["ambient_eye"]), dim=-1)
        out = self.branch.render(deformed, camera, background, self.raster, self.hparams.raster_backend, features)
        return out, deformed, camera

    # -------------------------------------------------------------------------------------------- training
    def branch_loss(
        self,
        batch: dict[str, torch.Tensor],
        iteration: int,
        background: torch.Tensor,
    ) -> tuple[torch.Tensor, RasterOutput, Camera, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        it = self.iteration()
        hp = self.hparams
        if hp.sh_up_interval > 0 and it % hp.sh_up_interval == 0:
            self.branch.gaussians.one_up_sh_degree()
        loss, out, camera, logs = self.branch_loss(batch, it, self.background_color(it))
        self._last = (out, camera)
        logs = {f"train/{k}": v.detach() if torch.is_tensor(v) else torch.tensor(float(v)) for k, v in logs.items()}
        logs["train/loss"] = loss.detach()
        logs["train/points"] = torch.tensor(float(self.branch.gaussians.num_points))
        log_step_scalars(self, logs, batch_size=1)
        return loss

    def lpips_patches(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
        """Patch LPIPS with a random patch size 2·U{patch_range} (None without the AlexNet weights)."""
        from talkzoo.zoo.talkinggaussian.losses import patchify

        lpips = self._lpips.get(self.device)
        if lpips is None:
            return None
        low, high = self.hparams.patch_range
        size = 2 * int(torch.randint(low, high + 1, (1,)))
        return lpips(patchify(image, size), patchify(target, size)).mean()

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        it = self.iteration()
        hp = self.hparams
        gaussians = self.branch.gaussians
        average_gradients(gaussians.parameters())
        groups = optimizer_groups_by_name(optimizer)
        frozen = list(MOTION_GROUPS) if it < hp.warm_step else []
        if hp.freeze_step is not None and it > hp.freeze_step:
            frozen = list(MOTION_GROUPS) + ["xyz", "opacity", "scaling", "rotation"]
        for name in frozen:  # AdamW skips parameters without gradients (as the original's untouched ones)
            for p in groups[name]["params"]:
                p.grad = None
        if self._last is None:
            return
        out, camera = self._last
        self._last = None
        self.densification(optimizer, it, out, camera)

    @torch.no_grad()
    def densification(self, optimizer: torch.optim.Optimizer, it: int, out: RasterOutput, camera: Camera) -> None:
        hp = self.hparams
        gaussians = self.branch.gaussians
        n = gaussians.num_points
        if self.stats is None or self.stats.grad_sum.shape[0] != n:
            self.stats = DensifyStats.zeros(n, self.device)
        interval_hit = it > hp.densify_from and it % hp.densify_interval == 0
        if it < hp.densify_until and out.means2d.grad is not None:
            grad = out.means2d.grad.detach() / self.loss_scale()
            self.stats.add(grad, out.radii, camera.width, camera.height)
            if interval_hit:
                all_reduce_(self.stats.grad_sum)
                all_reduce_(self.stats.count)
                all_reduce_(self.stats.max_radii, "max")
                config = DensifyConfig(
                    grad_threshold=hp.densify_grad_threshold,
                    percent_dense=hp.percent_dense,
                    max_screen_radius=hp.max_screen_radius if it > hp.size_prune_from else None,
                    big_scale=hp.big_scale,
                    max_points=hp.max_points,
                )
                min_opacity = hp.min_opacity + hp.min_opacity_rise * it / hp.densify_until
                generator = torch.Generator().manual_seed(hp.init_seed * 1_000_003 + it)
                counts = densify_and_prune(
                    gaussians, optimizer, self.stats, config, min_opacity, float(self.extent), generator
                )
                self.stats = DensifyStats.zeros(gaussians.num_points, self.device)
                check_same_across_processes(float(gaussians.xyz.sum()), "the Gaussians after densification")
                self.log_dict({f"train/densify_{k}": float(v) for k, v in counts.items()}, batch_size=1)
        if interval_hit:
            green = self.green_mask(camera)
            all_reduce_(green, "max")
            self.handle_green(optimizer, green.bool(), it)

    def loss_scale(self) -> float:
        """The 16-mixed GradScaler's current scale (1 otherwise): the screen-space means are no optimizer parameters,
        so their gradient is still scaled when the densification statistic reads it."""
        plugin = self.trainer.precision_plugin if self._trainer is not None else None
        scaler = getattr(plugin, "scaler", None)
        return float(scaler.get_scale()) if scaler is not None and scaler.is_enabled() else 1.0

    def green_mask(self, camera: Camera) -> torch.Tensor:
        """float [N]: 1 where the Gaussian's colour seen from this camera is background green."""
        gaussians = self.branch.gaussians
        colors = gaussians.colors(gaussians.xyz, camera.center.to(gaussians.xyz))
        r, g, b = self.hparams.green_threshold
        return ((colors[:, 0] < r) & (colors[:, 1] > g) & (colors[:, 2] < b)).float()

    def handle_green(self, optimizer: torch.optim.Optimizer, green: torch.Tensor, it: int) -> None:
        """Face: prune background-green Gaussians (every densification interval, also after densify_until)."""
        if bool(green.any()):
            prune(self.branch.gaussians, optimizer, green)
            self.stats = DensifyStats.zeros(self.branch.gaussians.num_points, self.device)

    def suppress_green(self, green: torch.Tensor) -> None:
        if self.stats is not None:
            suppress(self.branch.gaussians, green, self.stats)

    # ------------------------------------------------------------------------------------------ optimiser
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        g = self.branch.gaussians
        extent = float(self.extent) if float(self.extent) > 0 else 1.0
        adam = {"betas": (0.9, 0.999), "eps": 1e-15, "weight_decay": 0.0}
        groups: list[dict[str, Any]] = [
            {"params": [g.xyz], "lr": hp.position_lr * extent, "name": "xyz", **adam},
            {"params": [g.features_dc], "lr": hp.feature_lr, "name": "f_dc", **adam},
            {"params": [g.features_rest], "lr": hp.feature_lr / 20, "name": "f_rest", **adam},
            {"params": [g.opacity], "lr": hp.opacity_lr, "name": "opacity", **adam},
            {"params": [g.scaling], "lr": hp.scaling_lr, "name": "scaling", **adam},
            {"params": [g.rotation], "lr": hp.rotation_lr, "name": "rotation", **adam},
        ]
        motion = self.branch.motion
        grid = list(motion.encoder.parameters())
        att = list(motion.audio.audio_att_net.parameters())
        taken = {id(p) for p in grid + att}
        nets = [p for p in motion.parameters() if id(p) not in taken]
        net = {"betas": (0.9, 0.99), "eps": 1e-8}
        groups += [
            {"params": grid, "lr": hp.grid_lr, "name": "grid", "weight_decay": hp.grid_weight_decay, **net},
            {"params": nets, "lr": hp.net_lr, "name": "nets", "weight_decay": 0.0, **net},
            {"params": att, "lr": hp.att_lr, "name": "att", "weight_decay": 1e-4, **net},
        ]
        optimizer = torch.optim.AdamW(groups)
        ratio = math.log(hp.position_lr_final / hp.position_lr)

        def xyz_factor(step: int) -> float:  # 3DGS's log-linear position decay (no delay), at iteration step + 1
            t = min(max((step + 1) / hp.position_lr_max_steps, 0.0), 1.0)
            return math.exp(t * ratio)

        def motion_factor(step: int) -> float:  # TalkingGaussian's LambdaLR of the motion network
            if step < hp.select_until:
                return 0.5 ** (step / max(hp.select_until, 1))
            return 0.1 ** (step / max(hp.lr_horizon, 1))

        lambdas = [xyz_factor] + [lambda step: 1.0] * 5 + [motion_factor] * 3
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ------------------------------------------------------------------------------------------ validation
    def val_region(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """bool [H, W]: the pixels the branch's val PSNR is measured on."""
        raise NotImplementedError

    def on_validation_epoch_start(self) -> None:
        self._media = {"render": [], "target": [], "opacity": []}

    @torch.no_grad()
    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        black = torch.zeros(3, device=self.device)
        it = self.iteration() if self.training or self._trainer is not None else None
        out, _, _ = self.render(batch, it, black)
        region = self.val_region(batch)
        target = batch["image"][0] * region
        image = out.image * region
        err = ((image - target) ** 2).mean(dim=0)[region]
        if err.numel():
            psnr = -10 * torch.log10(err.mean().clamp_min(1e-10))
            self.log(f"val/psnr_{self.region}", psnr, batch_size=1, prog_bar=True)
        if len(self._media.get("render", [])) < self.hparams.val_media_frames:
            self._media["render"].append(to_uint8(out.image))
            self._media["target"].append(to_uint8(target))
            self._media["opacity"].append(out.alpha[0].float().cpu().numpy())

    def validation_media(self) -> dict[str, Any] | None:
        """The first val frames (talkzoo.callbacks.media_logger protocol, kind "frames"): the branch on black,
        its region of the ground truth, its alpha."""
        if not self._media.get("render"):
            return None
        fps = float(self.speakers[0].fps) if self.speakers else 25.0
        return {"kind": "frames", "fps": fps, **{k: np.stack(v) for k, v in self._media.items()}}

"""ERNeRFHead + CoarseToFineLPIPS + EMA: the switch to patch LPIPS happens at the configured step (also after a
resume past it), falls back to patch MSE without AlexNet weights, and EMA weights are used for validation."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch import Callback

from talkzoo.callbacks.checkpoint import Checkpoint
from talkzoo.callbacks.coarse_to_fine import CoarseToFineLPIPS
from talkzoo.callbacks.ema import EMA
from talkzoo.datamodules.frames import FrameDataModule
from talkzoo.lightning_modules.ernerf_head import ERNeRFHead
from talkzoo.zoo.ernerf import HeadField
from talkzoo.zoo.rendering import GridSampler


def _module() -> ERNeRFHead:
    field = HeadField(audio_in=80, levels=2, base_resolution=8, finest_resolution=16, log2_hashmap_size=10, ind_num=64)
    sampler = GridSampler(backend="torch", resolution=16, n_samples=8, step_size=0.2, occ_threshold=2.0)
    return ERNeRFHead(field, sampler, cpu_rays_per_step=128, cpu_update_cells=None, patch_size=32, val_chunk=2048)


class _Stages(Callback):
    """Records (global_step, fine stage, LPIPS present) before every training batch, after the switch callback."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool, bool]] = []

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: ERNeRFHead, batch: object, batch_idx: int) -> None:
        self.seen.append((trainer.global_step, bool(pl_module.fine_stage), pl_module.lpips is not None))


def _fit(speaker: Path, root: Path, max_steps: int, switch: int, ckpt: str | None = None, **trainer_kw: object):
    stages, c2f = _Stages(), CoarseToFineLPIPS(switch_step=switch)
    trainer = L.Trainer(
        accelerator="cpu", max_steps=max_steps, max_epochs=-1, logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=str(root), limit_val_batches=0, num_sanity_val_steps=0,
        callbacks=[c2f, stages, Checkpoint(dirpath=str(root / "ckpt"), save_last=True, every_n_train_steps=1)],
        **trainer_kw,
    )  # fmt: skip
    module = _module()
    data = FrameDataModule(str(speaker), num_workers=0)
    trainer.fit(module, datamodule=data, ckpt_path=ckpt, weights_only=True)  # resumes without unpickling code
    return module, stages.seen, c2f


def test_lpips_switch_at_the_configured_step_and_after_resume(
    tiny_speaker: Path, tmp_path: Path, fake_alexnet: Path
) -> None:
    module, seen, c2f = _fit(tiny_speaker, tmp_path, max_steps=4, switch=2)
    assert seen == [(0, False, False), (1, False, False), (2, True, True), (3, True, True)]
    assert c2f.switched_at == 2
    last = tmp_path / "ckpt" / "last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=True)
    assert state["global_step"] == 4 and bool(state["state_dict"]["fine_stage"])
    assert not any(key.startswith("lpips.") for key in state["state_dict"]), "frozen LPIPS is not checkpointed"

    module, seen, c2f = _fit(tiny_speaker, tmp_path, max_steps=6, switch=2, ckpt=str(last))
    assert seen == [(4, True, True), (5, True, True)]  # resumed past the switch: fine stage from the first step
    assert c2f.switched_at == 4


def test_switch_without_weights_falls_back_to_patch_mse(tiny_speaker: Path, tmp_path: Path, hub_dir: Path) -> None:
    with pytest.warns(UserWarning, match="patch MSE only"):
        module, seen, _ = _fit(tiny_speaker, tmp_path, max_steps=3, switch=1)
    assert seen == [(0, False, False), (1, True, False), (2, True, False)]


def test_ema_weights_are_swapped_in_for_validation(tiny_speaker: Path, tmp_path: Path) -> None:
    ema = EMA(decay=0.5, every_n_steps=1)

    class Probe(Callback):
        def __init__(self) -> None:
            self.train_value = self.val_value = None

        def on_train_batch_end(self, trainer: L.Trainer, pl_module: ERNeRFHead, *args: object) -> None:
            self.train_value = pl_module.field.sigma_net.linears[0].weight.detach().clone()

        def on_validation_batch_start(self, trainer: L.Trainer, pl_module: ERNeRFHead, *args: object) -> None:
            self.val_value = pl_module.field.sigma_net.linears[0].weight.detach().clone()

    probe = Probe()
    trainer = L.Trainer(
        accelerator="cpu", max_steps=3, max_epochs=-1, logger=False, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, limit_val_batches=1, val_check_interval=3,
        num_sanity_val_steps=0, callbacks=[probe, ema], default_root_dir=str(tmp_path),
    )  # fmt: skip
    module = _module()
    trainer.fit(module, datamodule=FrameDataModule(str(tiny_speaker), num_workers=0, val_limit=1))
    shadow = ema.shadow["field.sigma_net.linears.0.weight"]  # swapped back: now holds the EMA again
    torch.testing.assert_close(probe.val_value, shadow)
    assert not torch.equal(probe.val_value, probe.train_value)
    torch.testing.assert_close(module.field.sigma_net.linears[0].weight.detach(), probe.train_value)
    metrics = trainer.callback_metrics
    assert {"val/psnr", "val/psnr_head", "val/ssim"} <= set(metrics) and torch.isfinite(metrics["val/psnr"])
    assert 0.0 <= float(metrics["val/mouth_found"]) <= 1.0  # MediaPipe on render and truth
    media = module.validation_media()
    assert media is not None and media["kind"] == "frames"
    height, width = media["target"].shape[1:3]
    assert media["render"].shape == (1, height, width, 3) and media["render"].dtype == np.uint8
    assert media["depth"].shape == media["opacity"].shape == (1, height, width)


def test_cpu_preset_stacks_on_the_recipe(tiny_speaker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from talkzoo.cli import main

    root = Path(__file__).resolve().parents[1]
    (tmp_path / "outputs" / "synth").mkdir(parents=True)
    (tmp_path / "outputs" / "synth" / "speaker").symlink_to(tiny_speaker)
    monkeypatch.chdir(tmp_path)
    configs = ["configs/ernerf_head.yaml", "configs/presets/ernerf_head_cpu.yaml", "configs/trainer/cpu_smoke.yaml"]
    args = ["fit"] + [part for config in configs for part in ("--config", str(root / config))]
    assert main(args) == 0
    state = torch.load(tmp_path / "runs/ernerf_head/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] == 2
    assert state["state_dict"]["sampler.estimator.binaries"].shape == (1, 48, 48, 48)


def test_coarse_rays_take_their_shares_of_the_lips_and_the_face(tiny_speaker: Path) -> None:
    field = HeadField(audio_in=80, levels=2, base_resolution=8, finest_resolution=16, log2_hashmap_size=10, ind_num=64)
    sampler = GridSampler(backend="torch", resolution=16, n_samples=8, step_size=0.2, occ_threshold=2.0)
    module = ERNeRFHead(field, sampler, cpu_rays_per_step=400, face_ray_fraction=0.5, lips_ray_fraction=0.25)
    data = FrameDataModule(str(tiny_speaker), num_workers=0)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    height, width = batch["image"].shape[-2:]
    pixels, patch = module._pixels(batch)
    assert patch is None and pixels.shape == (400, 2)
    r0, r1, c0, c1 = module._lips_rect(batch["landmarks"][0], height, width)
    u, v = pixels[:, 0], pixels[:, 1]
    in_lips = (u >= c0) & (u < c1) & (v >= r0) & (v < r1)
    assert bool(in_lips[:100].all())  # the first quarter: inside the lips rectangle
    lm = batch["landmarks"][0, :, :2]
    in_face = (
        (u >= lm[:, 0].min().floor()) & (u <= lm[:, 0].max()) & (v >= lm[:, 1].min().floor()) & (v <= lm[:, 1].max())
    )
    assert bool(in_face[100:200].all())  # then the rest of the face share
    assert float(in_lips[200:].float().mean()) < 0.5  # the rest: anywhere in the frame

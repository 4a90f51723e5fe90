"""ER-NeRF head learns (small CI versions of scripts/ernerf_head_learning.py): on the tiny synthetic speaker and on
the hard one (a head turning out of plane under a moving light) the head-region PSNR of held-out frames beats the
static baselines by a margin. (The mouth-follows-audio bar needs a bigger speaker; see docs/ernerf.md for the
script's numbers, docs/moda.md "Easy and hard speaker, the whole demo" for the hard speaker's.)"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ernerf_head_learning import build_module, evaluate  # noqa: E402
from head_checks import reference_psnr_and_faces  # noqa: E402

from talkzoo.datamodules.frames import FrameDataModule  # noqa: E402

HARD_STEPS = 400  # 512 rays a step on the 6 s, 64² hard speaker: ~25 s on 2 cores
HARD_MARGIN_DB = 0.8  # over the better of the mean train frame and the reference image (measured: +1.30 dB)


def _trained(speaker: Path, steps: int) -> tuple[object, FrameDataModule]:
    """The CPU preset's head module after `steps` steps of 512 rays on `speaker` (seed 0), and its data."""
    L.seed_everything(0)
    datamodule = FrameDataModule(str(speaker), num_workers=0)
    datamodule.setup("fit")
    module = build_module(cpu_rays=512)
    trainer = L.Trainer(
        accelerator="cpu", max_steps=steps, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, limit_val_batches=0, num_sanity_val_steps=0, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, datamodule=datamodule)
    return module, datamodule


def test_head_psnr_beats_the_mean_frame(tiny_speaker: Path) -> None:
    module, datamodule = _trained(tiny_speaker, 150)
    mean_frame = torch.stack([item["image"] for item in datamodule.train_set]).mean(dim=0)
    results = evaluate(module, datamodule, mean_frame)
    assert results["psnr_head"] > results["psnr_head_mean_frame"] + 2.0, results


def test_head_learns_the_hard_speaker(hard_speaker: Path) -> None:
    """Every frame of the hard speaker is a different image (pose, light, noise): after HARD_STEPS the held-out
    head-region PSNR beats both still baselines (the mean train frame and the first train frame as a reference
    image) by HARD_MARGIN_DB, and MediaPipe finds a face in ≥ 95 % of the renders (measured: 14 of 14; after 150
    steps only 2 of 14, with +0.6 dB)."""
    module, datamodule = _trained(hard_speaker, HARD_STEPS)
    mean_frame = torch.stack([item["image"] for item in datamodule.train_set]).mean(dim=0)
    results = evaluate(module, datamodule, mean_frame)
    psnr_reference, found = reference_psnr_and_faces(
        lambda batch: module.render_frame(batch)["image"], datamodule.val_dataloader(), datamodule.train_set[0]["image"]
    )
    print("hard speaker:", results, "reference image:", psnr_reference)
    baseline = max(results["psnr_head_mean_frame"], psnr_reference)
    assert results["psnr_head"] > baseline + HARD_MARGIN_DB, (results, psnr_reference)
    assert len(found) == results["val_frames"] and np.mean(found) >= 0.95, found

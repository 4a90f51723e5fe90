"""ER-NeRF head learns (small CI version of scripts/ernerf_head_learning.py): after 150 CPU steps on the tiny
synthetic speaker the head-region PSNR of held-out frames beats the static mean-frame baseline by a margin.
(The mouth-follows-audio bar needs a bigger speaker; see docs/ernerf.md for the script's numbers.)"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ernerf_head_learning import build_module, evaluate  # noqa: E402

from talkzoo.datamodules.frames import FrameDataModule  # noqa: E402


def test_head_psnr_beats_the_mean_frame(tiny_speaker: Path) -> None:
    L.seed_everything(0)
    datamodule = FrameDataModule(str(tiny_speaker), num_workers=0)
    datamodule.setup("fit")
    module = build_module(cpu_rays=512)
    trainer = L.Trainer(
        accelerator="cpu", max_steps=150, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, limit_val_batches=0, num_sanity_val_steps=0, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(module, datamodule=datamodule)
    mean_frame = torch.stack([item["image"] for item in datamodule.train_set]).mean(dim=0)
    results = evaluate(module, datamodule, mean_frame)
    assert results["psnr_head"] > results["psnr_head_mean_frame"] + 2.0, results

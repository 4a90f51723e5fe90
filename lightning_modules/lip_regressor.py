"""A minimal real recipe that proves the plumbing: audio features → normalised lip landmarks.

Temporary: it exists so LightningCLI, DDP, logging and checkpoint resume are exercised before the MODA recipes
land; delete it (and configs/lip_regressor.yaml) once they do.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import LightningModule
from torch import nn


class TemporalConvRegressor(nn.Module):
    """Dilated 1-D convolutions over time: audio [B, W, D] → lips [B, W, P·3]."""

    def __init__(self, audio_dim: int = 80, num_points: int = 40, hidden: int = 128, layers: int = 4) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv1d(audio_dim, hidden, 1)]
        for i in range(layers):
            blocks += [nn.Conv1d(hidden, hidden, 3, padding=2**i, dilation=2**i), nn.GELU()]
        blocks.append(nn.Conv1d(hidden, num_points * 3, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [B, W, D] → [B, W, P·3]."""
        return self.net(audio.transpose(1, 2)).transpose(1, 2)


class LipRegressor(LightningModule):
    """Regress the 40 canonical lip points (normalised per speaker) from per-frame audio features.

    Batch (from `datamodules.sequence.MotionDataModule`): `audio` [B, W, D], `lips` [B, W, 40, 3], `mask` [B, W].
    """

    def __init__(self, net: nn.Module | None = None, lr: float = 1e-3, weight_decay: float = 1e-4) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        self.net = net if net is not None else TemporalConvRegressor()

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [B, W, D] → lips [B, W, 40, 3] (normalised units)."""
        out = self.net(audio)
        return out.view(*out.shape[:2], -1, 3)

    def _loss(self, batch: dict[str, Any]) -> torch.Tensor:
        error = (self(batch["audio"]) - batch["lips"]).pow(2).mean(dim=(2, 3))
        mask = batch["mask"].float()
        return (error * mask).sum() / mask.sum().clamp_min(1.0)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["audio"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        loss = self._loss(batch)
        # The mean-motion baseline predicts 0 in normalised units: its loss is the targets' mean square.
        mask = batch["mask"].float()
        baseline = (batch["lips"].pow(2).mean(dim=(2, 3)) * mask).sum() / mask.sum().clamp_min(1.0)
        size = batch["audio"].shape[0]
        self.log("val/loss", loss, prog_bar=True, sync_dist=True, batch_size=size)
        self.log("val/baseline_loss", baseline, sync_dist=True, batch_size=size)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

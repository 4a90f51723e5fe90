"""Checkpointing whose `last.ckpt` always ends a run at its final step."""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint


class Checkpoint(ModelCheckpoint):
    """`ModelCheckpoint` that also writes `last.ckpt` when training stops between two periodic saves.

    Lightning 2.6 skips the final `save_last` once any `last.ckpt` was written in the same run, so a run stopped
    by `max_steps` between saves would leave stale weights for `--ckpt_path last`, evaluation and export.
    """

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.save_last and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        super().on_train_end(trainer, pl_module)

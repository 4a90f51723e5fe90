"""Training-step scalars logged only on the steps Lightning writes them.

Every `self.log` costs about 0.6 ms of Lightning's bookkeeping (the result collection's device move and metadata
checks; measured with lightning 2.6 on the 2-core CPU: 0.9 ms a step with no key, 3.2 with 4, 5.7 with 8), however
rarely the loggers write. ER-NeRF's head logs 4–5 keys on a ~55 ms CPU step: ~5 % of its time for values the
logger discards on 19 of every 20 steps. Training-step values are logged `on_step` only (no epoch aggregate), so the
logger receives exactly the same numbers when they are logged on the steps it writes alone; the progress bar and
`trainer.callback_metrics` then show the value of the last such step.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from lightning.pytorch import LightningModule


def logs_written_this_step(module: LightningModule) -> bool:
    """Whether Lightning will write this training step's logged values (every `log_every_n_steps`-th step, or
    when it stops); True outside a Trainer or where this Lightning has no such test."""
    trainer = module._trainer
    if trainer is None:
        return True
    # lightning's own LearningRateMonitor asks the same private property; without it: log every step
    return bool(getattr(getattr(trainer, "_logger_connector", None), "should_update_logs", True))


def log_step_scalars(
    module: LightningModule,
    values: Mapping[str, torch.Tensor | float],
    batch_size: int,
    prog_bar_keys: tuple[str, ...] = (),
) -> None:
    """`module.log` each training-step scalar (on_step, no epoch aggregate) on the steps the loggers write.

    values: {name: 0-dim tensor (detached) or float}. prog_bar_keys: those also shown in the progress bar.
    """
    if not logs_written_this_step(module):
        return
    for name, value in values.items():
        module.log(name, value, prog_bar=name in prog_bar_keys, batch_size=batch_size)

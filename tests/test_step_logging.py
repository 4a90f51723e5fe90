"""Training-step scalars logged only on the steps Lightning writes (lightning_modules/step_logging.py): the logger
gets exactly the rows it got when every step logged, from a fraction of the `self.log` calls."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger

from talkzoo.lightning_modules.step_logging import log_step_scalars, logs_written_this_step


class Line(L.LightningModule):
    """y = w·x fitted by SGD; logs its loss and w each step, either always or through log_step_scalars."""

    def __init__(self, every_step: bool) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.every_step = every_step
        self.log_calls = 0

    def log(self, *args: Any, **kwargs: Any) -> None:
        self.log_calls += 1
        super().log(*args, **kwargs)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = ((self.w * batch - 3 * batch) ** 2).mean()
        values = {"train/loss": loss.detach(), "train/w": self.w.detach()[0]}
        if self.every_step:
            for name, value in values.items():
                self.log(name, value, prog_bar=name == "train/loss", batch_size=1)
        else:
            log_step_scalars(self, values, batch_size=1, prog_bar_keys=("train/loss",))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(torch.linspace(-1, 1, 64)[:, None], batch_size=4)


def _fit(every_step: bool, root: Path) -> tuple[list[dict[str, str]], int]:
    torch.manual_seed(0)
    module = Line(every_step)
    trainer = L.Trainer(max_steps=23, log_every_n_steps=5, logger=CSVLogger(root, name="run"), accelerator="cpu",
                        enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)  # fmt: skip
    trainer.fit(module)
    with open(Path(trainer.logger.log_dir) / "metrics.csv") as f:
        return list(csv.DictReader(f)), module.log_calls


def test_the_logger_gets_the_same_rows_from_a_fifth_of_the_log_calls(tmp_path: Path) -> None:
    every, every_calls = _fit(True, tmp_path / "every")
    sparse, sparse_calls = _fit(False, tmp_path / "sparse")
    assert len(every) == 4  # steps 5, 10, 15, 20 of 23
    assert sparse == every
    assert every_calls == 2 * 23 and sparse_calls == 2 * 4


def test_outside_a_trainer_every_call_logs() -> None:
    assert logs_written_this_step(Line(every_step=False))

"""Exponential moving average of a module's parameters, swapped in for validation (docs/ernerf.md, "Training stages").

Only parameters are averaged (buffers such as occupancy grids stay live). Like torch-ema's default, the decay
ramps up: d = min(decay, (1 + n)/(10 + n)) for the n-th update. The shadow weights travel in the checkpoint.
With `copy_at_end` the averaged weights are copied into the module when training ends (for export); off by
default so that `--ckpt_path last` resumes the raw weights.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer


class EMA(Callback):
    """EMA of parameters, updated every `every_n_steps` optimiser steps; used for validation and export."""

    def __init__(self, decay: float = 0.95, every_n_steps: int = 1000, copy_at_end: bool = False) -> None:
        super().__init__()
        self.decay, self.every_n_steps, self.copy_at_end = decay, every_n_steps, copy_at_end
        self.shadow: dict[str, torch.Tensor] = {}
        self.updates = 0
        self._backup: dict[str, torch.Tensor] | None = None

    def _params(self, module: LightningModule) -> dict[str, torch.nn.Parameter]:
        params = {name: p for name, p in module.named_parameters() if p.requires_grad}
        for name, p in params.items():  # shadows restored from a checkpoint arrive on the CPU
            if name in self.shadow and self.shadow[name].device != p.device:
                self.shadow[name] = self.shadow[name].to(p.device)
        return params

    @torch.no_grad()
    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args: Any) -> None:
        params = self._params(pl_module)
        if not self.shadow:
            self.shadow = {name: p.detach().clone() for name, p in params.items()}
        if trainer.global_step % self.every_n_steps != 0:
            return
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name, p in params.items():
            self.shadow[name].lerp_(p.detach(), 1 - decay)

    @torch.no_grad()
    def _swap(self, pl_module: LightningModule) -> None:
        for name, p in self._params(pl_module).items():
            if name in self.shadow:
                current = p.detach().clone()
                p.copy_(self.shadow[name])
                self.shadow[name] = current

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.shadow and trainer.state.fn == "fit":
            self._swap(pl_module)
            self._backup = {}

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._backup is not None:
            self._swap(pl_module)
            self._backup = None

    @torch.no_grad()
    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.copy_at_end and self.shadow:
            for name, p in self._params(pl_module).items():
                if name in self.shadow:
                    p.copy_(self.shadow[name])

    def state_dict(self) -> dict[str, Any]:
        return {"shadow": {k: v.cpu() for k, v in self.shadow.items()}, "updates": self.updates}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.shadow = dict(state_dict.get("shadow", {}))
        self.updates = int(state_dict.get("updates", 0))

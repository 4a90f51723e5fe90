"""DDP settings the talkzoo modules need from their trainer."""

from __future__ import annotations

from lightning.pytorch import Trainer
from lightning.pytorch.strategies import DDPStrategy


def allow_two_backward_passes(trainer: Trainer) -> None:
    """GAN steps run two backward passes per batch (D, then G), each leaving the other network without gradients;
    plain DDP rejects that, so switch on DDP's unused-parameter detection before the strategy wraps the module
    (call it from the module's `setup`, which runs before the wrapping)."""
    strategy = trainer.strategy
    if isinstance(strategy, DDPStrategy):
        # DDPStrategy has no public setter; its constructor kwargs are read when it wraps the module.
        strategy._ddp_kwargs["find_unused_parameters"] = True


__all__ = ["allow_two_backward_passes"]

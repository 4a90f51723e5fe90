"""`talkzoo fit|validate|test|predict`: LightningCLI over any LightningModule / LightningDataModule by class path.

Recipes in `configs/` name the module and data classes (`class_path` + `init_args`); trainer and logger presets in
`configs/trainer/` and `configs/logger/` stack on top with more `--config` flags:

    talkzoo fit --config configs/moda.yaml --config configs/trainer/ddp_cpu.yaml
    talkzoo fit --config configs/moda.yaml --ckpt_path last      # resume a killed run
"""

from __future__ import annotations

import os
import warnings
from argparse import ArgumentError

from lightning.pytorch import LightningDataModule, LightningModule
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from talkzoo.zoo.errors import UserError


class TalkzooCLI(LightningCLI):
    """LightningCLI with talkzoo's defaults: any module/datamodule by class path, config saved beside the run."""

    def __init__(self, args: list[str] | None = None) -> None:
        super().__init__(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=args,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"parser_mode": "omegaconf", "exit_on_error": False},
        )

    def before_instantiate_classes(self) -> None:
        # Loggers get absolute save_dirs: W&B's service process outlives a run and resolves a relative `dir`
        # against its own working directory, so a second fit in the same process (the demo, a notebook) would
        # write its run files elsewhere.
        config = self.config[self.subcommand] if self.subcommand else self.config
        loggers = config.trainer.logger
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            init = getattr(logger, "init_args", None)
            save_dir = getattr(init, "save_dir", None) if init is not None else None
            if isinstance(save_dir, str) and not os.path.isabs(save_dir):
                init.save_dir = os.path.abspath(save_dir)

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        # A checkpoint folder that does not move between runs (the logger's version folders do), so that
        # `--ckpt_path last` finds the checkpoints of a killed run.
        for callback in self.trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
                callback.dirpath = os.path.realpath(os.path.join(self.trainer.default_root_dir, "checkpoints"))


def run_lightning_cli(args: list[str]) -> None:
    """Run LightningCLI on `args` = [subcommand, options...]; a bad config becomes one `UserError` line."""
    # sys.argv stays as it is (DDP re-launches the command from it), so LightningCLI's args-vs-argv note is moot.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    try:
        TalkzooCLI(args=args)
    except ArgumentError as exc:
        raise UserError(f"{_one_line(str(exc))}; see `talkzoo {args[0]} --help` or add --print_config") from exc


_NOISE = ("Given value", "Expected a", "Does not validate", "Subtypes:", "Errors:")


def _one_line(message: str) -> str:
    """jsonargparse explains a bad value over several indented lines: keep the informative ones, joined."""
    lines = [line.strip(" -") for line in message.splitlines() if line.strip()]
    keep = [line for line in lines if not line.startswith(_NOISE)]
    return " ".join(keep or lines)

"""`talkzoo fit|validate|test|predict`: LightningCLI over any LightningModule / LightningDataModule by class path.

Recipes in `configs/` name the module and data classes (`class_path` + `init_args`); presets stack on top with more
`--config` flags (a recipe or preset by name, or any YAML file):

    talkzoo fit --config moda --config moda_cpu --config trainer/ddp_cpu
    talkzoo fit --config moda --ckpt_path last      # resume a killed run

What talkzoo adds to LightningCLI (docs/training.md):
- `callbacks:` — the recipe's callbacks, by name ({name: {class_path, init_args}}). Stacked configs merge into them
  by name (a preset tunes `ema.init_args.every_n_steps` and keeps every other callback; `name: null` removes one),
  and they join `trainer.callbacks` (kept for additions such as `--trainer.callbacks+=...`) when the Trainer is built.
- `extends: BASE` — a variant states only what differs from its base recipe; the base's file is read first.
- checkpoints are loaded with `weights_only=True` (`--ckpt_path`, `--weights_only false` to trust a pickle).
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings
from argparse import ArgumentError
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import Namespace
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from talkzoo.lightning_modules.run_loading import refused_checkpoint
from talkzoo.recipes import resolve_config
from talkzoo.zoo.errors import UserError

CALLBACKS_KEY = "callbacks"
EXTENDS_KEY = "extends"
_CONFIG_FLAGS = ("--config", "-c")


class TalkzooCLI(LightningCLI):
    """LightningCLI with talkzoo's defaults: any module/datamodule by class path, config saved beside the run,
    recipe-owned callbacks by name, variants that extend a base recipe, weights-only checkpoint loading.

    args: the command line (subcommand first when `run`); run=False parses and builds without a subcommand;
    instantiate=False stops after parsing (`self.config` is the merged config: what the recipe tests inspect).
    """

    def __init__(self, args: Sequence[str] | None = None, run: bool = True, instantiate: bool = True) -> None:
        # sys.argv stays as it is (DDP re-launches the command from it), so LightningCLI's args-vs-argv note is moot.
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        args = expand_configs(list(sys.argv[1:] if args is None else args))
        self._callback_names = callback_names(args)
        self._instantiate = instantiate
        super().__init__(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=args,
            run=run,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"parser_mode": "omegaconf", "exit_on_error": False},
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            f"--{EXTENDS_KEY}",
            type=str | None,
            default=None,
            help="The recipe this config is a variant of: read before it (resolved before parsing).",
        )
        for name in self._callback_names:
            parser.add_subclass_arguments(Callback, f"{CALLBACKS_KEY}.{name}", required=False, fail_untyped=False)

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        config[EXTENDS_KEY] = None  # consumed: the saved config.yaml is complete without its base
        # Loggers get absolute save_dirs: W&B's service process outlives a run and resolves a relative `dir`
        # against its own working directory, so a second fit in the same process (the demo, a notebook) would
        # write its run files elsewhere.
        loggers = config.trainer.logger
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            init = logger.get("init_args") if isinstance(logger, Namespace) else None
            save_dir = init.get("save_dir") if isinstance(init, Namespace) else None
            if isinstance(save_dir, str) and not os.path.isabs(save_dir):
                init.save_dir = os.path.abspath(save_dir)
        # Lightning passes weights_only=None on to torch.load (whose default an environment variable can flip):
        # talkzoo's checkpoints hold tensors and plain Python only, so resuming never needs to unpickle code.
        if "weights_only" in config and config.weights_only is None:
            config.weights_only = True

    def instantiate_classes(self) -> None:
        if not self._instantiate:
            return
        super().instantiate_classes()
        # A checkpoint folder that does not move between runs (the logger's version folders do), so that
        # `--ckpt_path last` finds the checkpoints of a killed run.
        for callback in self.trainer.checkpoint_callbacks:
            if isinstance(callback, ModelCheckpoint) and callback.dirpath is None:
                callback.dirpath = os.path.realpath(os.path.join(self.trainer.default_root_dir, "checkpoints"))

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The Trainer with the recipe's callbacks (by name, in config order) followed by `trainer.callbacks`."""
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        named = config.get(CALLBACKS_KEY)
        recipe = [cb for cb in vars(named).values() if cb is not None] if isinstance(named, Namespace) else []
        extra = config.trainer.get("callbacks")
        extra = [] if extra is None else list(extra) if isinstance(extra, list) else [extra]
        return super().instantiate_trainer(callbacks=[*recipe, *extra], **kwargs)


def expand_configs(args: list[str]) -> list[str]:
    """`--config` values resolved to files (recipe and preset names too), each variant preceded by its base."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _CONFIG_FLAGS and i + 1 < len(args):
            value, i = args[i + 1], i + 2
        elif arg.startswith("--config="):
            value, i = arg.split("=", 1)[1], i + 1
        else:
            out.append(arg)
            i += 1
            continue
        for path in config_chain(value):
            out += ["--config", path]
    return out


def config_chain(value: str, seen: tuple[Path, ...] = ()) -> list[str]:
    """The files a `--config` value stands for: its `extends` chain, base first, then itself. An inline config
    (YAML text) is passed through."""
    if "\n" in value or value.lstrip().startswith("{"):
        return [value]
    path = Path(resolve_config(value))
    if not path.is_file():
        raise UserError(f"--config {value}: the file does not exist; name a recipe (`talkzoo recipes`) or a YAML file")
    if path.resolve() in seen:
        chain = " → ".join(str(p) for p in (*seen, path.resolve()))
        raise UserError(f"{path}: `{EXTENDS_KEY}` loops ({chain}); a variant extends a recipe, never itself")
    base = _read_config(path).get(EXTENDS_KEY)
    if base is None:
        return [str(path)]
    if not isinstance(base, str):
        raise UserError(f"{path}: `{EXTENDS_KEY}` must be a recipe name or a YAML path, got {base!r}")
    return [*config_chain(_base_value(path, base), (*seen, path.resolve())), str(path)]


def _base_value(variant: Path, base: str) -> str:
    """`extends` of `variant`: a path relative to the variant's folder, a sibling NAME.yaml, else a recipe name."""
    for candidate in (variant.parent / base, variant.parent / f"{base}.yaml"):
        if candidate.is_file():
            return str(candidate)
    return base


def callback_names(args: list[str]) -> list[str]:
    """Names under `callbacks:` in the config files of `args` (expanded) and in `--callbacks.NAME...` flags."""
    names: list[str] = []

    def add(name: str) -> None:
        if name and name not in names:
            names.append(name)

    for i, arg in enumerate(args):
        if arg == "--config" and i + 1 < len(args) and Path(args[i + 1]).is_file():
            section = _read_config(Path(args[i + 1])).get(CALLBACKS_KEY)
            for name in section if isinstance(section, dict) else {}:
                add(str(name))
        elif arg.startswith(f"--{CALLBACKS_KEY}."):
            add(arg[len(CALLBACKS_KEY) + 3 :].split("=", 1)[0].split(".", 1)[0])
    return names


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    return data if isinstance(data, dict) else {}


def recipe_config(*configs: str) -> Namespace:
    """The merged config of stacked `--config` values (names or files) as `talkzoo fit` parses it (without the list
    of files read, `config`); nothing is built."""
    args = [part for config in configs for part in ("--config", config)]
    config = TalkzooCLI(args, run=False, instantiate=False).config
    del config["config"]
    return config


def run_lightning_cli(args: list[str]) -> None:
    """Run LightningCLI on `args` = [subcommand, options...]; a bad config becomes one `UserError` line."""
    try:
        TalkzooCLI(args=args)
    except ArgumentError as exc:
        raise UserError(f"{_one_line(str(exc))}; see `talkzoo {args[0]} --help` or add --print_config") from exc
    except pickle.UnpicklingError as exc:  # Lightning's own checkpoint loading (--ckpt_path) refused a pickle
        raise refused_checkpoint(_ckpt_path(args), exc) from exc


def _ckpt_path(args: list[str]) -> str:
    for i, arg in enumerate(args):
        if arg == "--ckpt_path" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--ckpt_path="):
            return arg.split("=", 1)[1]
    return "the checkpoint"


_NOISE = ("Given value", "Expected a", "Does not validate", "Subtypes:", "Errors:")


def _one_line(message: str) -> str:
    """jsonargparse explains a bad value over several indented lines: keep the informative ones, joined."""
    lines = [line.strip(" -") for line in message.splitlines() if line.strip()]
    keep = [line for line in lines if not line.startswith(_NOISE)]
    return " ".join(keep or lines)

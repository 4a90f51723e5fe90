"""The one way to load a trained run: `load_run(run_dir)` / `load_run_module(checkpoint)`.

The module is rebuilt from the run's config: LightningCLI writes the full config (model `class_path` + `init_args`,
nested networks included) as `config.yaml` into the run's log folder; the checkpoint's own hyper-parameters omit the
injected networks (no nn.Module is ever pickled into a checkpoint). Checkpoints are read with
`torch.load(weights_only=True)`: tensors and plain Python only, so a shared checkpoint cannot run code when loaded
(docs/training.md, "Safe checkpoints").
"""

from __future__ import annotations

import contextvars
import pickle
import re
from pathlib import Path
from typing import Any

import torch
import yaml
from jsonargparse import ArgumentParser
from lightning.pytorch import LightningModule

from talkzoo.zoo.errors import UserError

LAST_CHECKPOINT = Path("checkpoints") / "last.ckpt"


def refused_checkpoint(path: str | Path, error: pickle.UnpicklingError) -> UserError:
    """The one-line error for a checkpoint that holds pickled objects beyond tensors and plain Python."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
    what = f" (it asks for {found.group(1)})" if found else ""
    return UserError(
        f"{path}: refused: it holds pickled Python objects, not only tensors{what}; talkzoo loads checkpoints with "
        "torch.load(weights_only=True) so that a shared checkpoint cannot run code; retrain it with `talkzoo fit`"
    )


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", missing_hint: str = "") -> dict:
    """A Lightning checkpoint as a dict, read with torch.load(weights_only=True); UserError (one line) when it is
    missing, unreadable, not a Lightning checkpoint, or carries a pickle payload (refused before anything runs)."""
    hint = f"; {missing_hint}" if missing_hint else ""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint{hint}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc) or "Weights only load failed" in str(exc):
            raise refused_checkpoint(path, exc) from exc
        raise UserError(f"{path}: not a readable checkpoint ({_first_line(exc)}){hint}") from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise UserError(f"{path}: not a readable checkpoint ({_first_line(exc)}){hint}") from exc
    if not isinstance(state, dict) or "state_dict" not in state:
        raise UserError(f"{path}: not a Lightning checkpoint (no state_dict){hint}")
    return state


def _first_line(error: BaseException) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)


def find_run_config(checkpoint: Path) -> Path | None:
    """The newest `config.yaml` of the run that wrote `checkpoint` (<root>/checkpoints/X.ckpt): looked up beside the
    checkpoint, in <root>, then anywhere under <root> (logger version folders). None when there is none."""
    folder = checkpoint.resolve().parent
    for candidate in (folder / "config.yaml", folder.parent / "config.yaml"):
        if candidate.is_file():
            return candidate
    found = sorted(folder.parent.rglob("config.yaml"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def model_config(checkpoint: Path) -> dict[str, Any]:
    """The `model` section ({class_path, init_args}) of the run config of `checkpoint`; UserError if absent."""
    config = find_run_config(checkpoint)
    if config is None:
        raise UserError(
            f"{checkpoint}: no config.yaml of its `talkzoo fit` run was found beside it or under "
            f"{checkpoint.resolve().parent.parent}; keep the run folder together (checkpoints/ + the log folder)"
        )
    model = (yaml.safe_load(config.read_text()) or {}).get("model")
    if not isinstance(model, dict) or "class_path" not in model:
        raise UserError(f"{config}: has no model class_path; it is not a `talkzoo fit` config")
    return model


def instantiate_model(model: dict[str, Any]) -> LightningModule:
    """Build a LightningModule from a {class_path, init_args} mapping with jsonargparse (nested class paths too)."""
    # In a fresh context: LightningCLI hands a module its hyper-parameters through a context variable while it builds
    # it, and a run loaded inside that constructor (the torso stage's frozen head) must not take the outer module's.
    return contextvars.Context().run(_instantiate, model)


def _instantiate(model: dict[str, Any]) -> LightningModule:
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(LightningModule, "model", required=True)
    cfg = parser.parse_object({"model": model})
    return parser.instantiate_classes(cfg).model


def load_run_module(
    checkpoint: str | Path,
    expected: type[LightningModule] | None = None,
    init_overrides: dict[str, Any] | None = None,
    missing_hint: str = "train it with `talkzoo fit`",
    map_location: str | torch.device = "cpu",
) -> LightningModule:
    """Module of a `talkzoo fit` run with the checkpoint's weights and data-derived state, in eval mode.

    expected: the class the module must be (UserError otherwise). init_overrides: init_args replaced before building
    (e.g. a moved head checkpoint path). missing_hint: how to make the checkpoint, for the missing-file error.
    map_location: the device the checkpoint is read to and the module is moved to (as load_from_checkpoint).
    """
    checkpoint = Path(checkpoint)
    state = load_checkpoint(checkpoint, map_location, missing_hint)
    model = model_config(checkpoint)
    model = {
        "class_path": model["class_path"],
        "init_args": {**(model.get("init_args") or {}), **(init_overrides or {})},
    }
    module = instantiate_model(model)
    if expected is not None and not isinstance(module, expected):
        raise UserError(f"{checkpoint}: holds a {type(module).__name__}, expected a {expected.__name__}")
    module.on_load_checkpoint(state)  # data-derived state (speaker statistics, cameras) as Lightning restores it
    module.load_state_dict(state["state_dict"])
    return module.to(map_location).eval()


def load_run(
    run_dir: str | Path,
    expected: type[LightningModule] | None = None,
    init_overrides: dict[str, Any] | None = None,
    map_location: str | torch.device = "cpu",
) -> LightningModule:
    """The module of the run folder `run_dir` (as `talkzoo fit` writes it: checkpoints/last.ckpt + config.yaml),
    loaded by `load_run_module`; UserError naming the folder when it holds no trained run."""
    run_dir = Path(run_dir)
    return load_run_module(
        run_dir / LAST_CHECKPOINT,
        expected=expected,
        init_overrides=init_overrides,
        missing_hint=f"{run_dir} holds no trained run; train it with `talkzoo fit` (default_root_dir: {run_dir})",
        map_location=map_location,
    )

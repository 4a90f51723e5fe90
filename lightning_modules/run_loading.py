"""Load a LightningModule trained by `talkzoo fit` from its checkpoint, rebuilding injected networks from the run's
config: LightningCLI writes the full config (model `class_path` + `init_args`, nested networks included) as
`config.yaml` into the run's log folder; the checkpoint's own hyper-parameters omit the injected networks.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch import LightningModule

from talkzoo.zoo.errors import UserError


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
    from jsonargparse import ArgumentParser

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
    """Module of a `talkzoo fit` run with the checkpoint's weights, in eval mode.

    expected: the class the module must be (UserError otherwise). init_overrides: init_args replaced before building
    (e.g. a moved head checkpoint path). missing_hint: how to make the checkpoint, for the missing-file error.
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise UserError(f"{checkpoint}: no such checkpoint; {missing_hint}")
    model = model_config(checkpoint)
    model = {
        "class_path": model["class_path"],
        "init_args": {**(model.get("init_args") or {}), **(init_overrides or {})},
    }
    try:
        state = torch.load(checkpoint, map_location=map_location, weights_only=False)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as exc:
        raise UserError(f"{checkpoint}: not a readable checkpoint ({exc}); {missing_hint}") from exc
    if not isinstance(state, dict) or "state_dict" not in state:
        raise UserError(f"{checkpoint}: not a Lightning checkpoint (no state_dict); {missing_hint}")
    module = instantiate_model(model)
    if expected is not None and not isinstance(module, expected):
        raise UserError(f"{checkpoint}: holds a {type(module).__name__}, expected a {expected.__name__}")
    module.load_state_dict(state["state_dict"])
    return module.eval()

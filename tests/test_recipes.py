"""Recipes compose: presets tune the recipe's callbacks by name and never drop one; variants state only what differs
from the recipe they extend and write to their own run folder. Configs are parsed as `talkzoo fit` parses them."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightning.pytorch.callbacks import LearningRateMonitor

from talkzoo.callbacks.checkpoint import Checkpoint
from talkzoo.callbacks.coarse_to_fine import CoarseToFineLPIPS
from talkzoo.callbacks.ema import EMA
from talkzoo.callbacks.media_logger import ValidationMedia
from talkzoo.pipelines.train import TalkzooCLI, recipe_config
from talkzoo.zoo.errors import UserError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RECIPES = sorted(CONFIGS.glob("*.yaml"))
PRESETS = sorted((CONFIGS / "presets").glob("*.yaml"))


def _yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b.c": leaf} of nested dicts (lists and scalars are leaves)."""
    if not isinstance(tree, dict) or not tree:
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _variants_of(base: str) -> list[Path]:
    return [r for r in RECIPES if _yaml(r).get("extends") == base]


PRESET_BASES = [
    (preset, base)
    for preset in PRESETS
    for base in [CONFIGS / f"{preset.stem.removesuffix('_cpu')}.yaml", *_variants_of(preset.stem.removesuffix("_cpu"))]
]
VARIANTS = [r for r in RECIPES if "extends" in _yaml(r)]


def test_configs_never_set_trainer_callbacks() -> None:
    """A `trainer.callbacks` list in a stacked config replaces the recipe's list: recipes use `callbacks:` by name."""
    for path in sorted(CONFIGS.rglob("*.yaml")):
        assert "callbacks" not in (_yaml(path).get("trainer") or {}), f"{path}: use the named `callbacks:` section"


def test_every_preset_has_a_base_recipe() -> None:
    assert PRESETS and all(base.is_file() for _, base in PRESET_BASES)
    assert {p.stem for p, _ in PRESET_BASES} == {p.stem for p in PRESETS}


@pytest.mark.parametrize("preset, base", PRESET_BASES, ids=[f"{b.stem}+{p.stem}" for p, b in PRESET_BASES])
def test_each_preset_keeps_its_base_callbacks(preset: Path, base: Path) -> None:
    alone = recipe_config(str(base)).as_dict()["callbacks"]
    stacked = recipe_config(str(base), str(preset)).as_dict()["callbacks"]
    tuned = _flat(_yaml(preset).get("callbacks") or {})
    assert alone, f"{base.name} names no callbacks"
    for name, spec in alone.items():
        assert stacked.get(name) is not None, f"{preset.name} dropped {base.name}'s callback {name!r}"
        assert stacked[name]["class_path"] == spec["class_path"]
        for key, value in spec["init_args"].items():
            if f"{name}.init_args.{key}" not in tuned:
                assert stacked[name]["init_args"][key] == value, f"{name}.{key} changed without {preset.name} naming it"
            else:
                assert stacked[name]["init_args"][key] == tuned[f"{name}.init_args.{key}"]


def test_the_head_preset_trains_with_every_recipe_callback(workdir: Path) -> None:
    """The reported bug: stacking the ER-NeRF head CPU preset dropped the recipe's LearningRateMonitor."""
    cli = TalkzooCLI(["--config", "ernerf_head", "--config", "ernerf_head_cpu"], run=False)
    kinds = {type(cb): cb for cb in cli.trainer.callbacks}
    assert {Checkpoint, CoarseToFineLPIPS, EMA, LearningRateMonitor} <= set(kinds)
    assert kinds[CoarseToFineLPIPS].switch_step == 2400 and kinds[EMA].every_n_steps == 50  # the preset's values
    assert kinds[EMA].decay == 0.95  # the recipe's value, untouched by the preset


def test_a_stacked_config_removes_and_adds_callbacks_by_name(workdir: Path) -> None:
    extra = workdir / "extra.yaml"
    extra.write_text(
        "callbacks:\n  lr_monitor: null\n"
        "  media:\n    class_path: talkzoo.callbacks.media_logger.ValidationMedia\n    init_args: {max_frames: 4}\n"
    )
    cli = TalkzooCLI(["--config", "moda", "--config", str(extra)], run=False)
    kinds = {type(cb): cb for cb in cli.trainer.callbacks}
    assert Checkpoint in kinds and ValidationMedia in kinds and LearningRateMonitor not in kinds
    assert kinds[ValidationMedia].max_frames == 4


def test_there_is_a_variant() -> None:
    assert VARIANTS, "configs/ must hold at least one variant (a recipe with `extends`)"


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.stem for v in VARIANTS])
def test_each_variant_differs_from_its_base_only_in_what_it_names(variant: Path) -> None:
    spec = _yaml(variant)
    base = spec.pop("extends")
    named = _flat(spec)
    merged, original = _flat(recipe_config(str(variant)).as_dict()), _flat(recipe_config(base).as_dict())
    replaced = [key.removesuffix(".class_path") for key in named if key.endswith(".class_path")]

    def is_named(key: str) -> bool:
        return any(key == n or key.startswith(n + ".") for n in named) or any(key.startswith(r + ".") for r in replaced)

    changed = {key for key in merged.keys() | original.keys() if merged.get(key) != original.get(key)}
    assert changed, f"{variant.name} changes nothing"
    assert all(is_named(key) for key in changed), sorted(k for k in changed if not is_named(k))
    own_folder = merged["trainer.default_root_dir"] != original["trainer.default_root_dir"]
    assert own_folder, "a variant writes to its own run folder"
    # A replaced network keeps no setting from the base's class: each init arg is named or is the new class's default.
    for node in replaced:
        module, _, name = merged[f"{node}.class_path"].rpartition(".")
        defaults = inspect.signature(getattr(importlib.import_module(module), name)).parameters
        for key in [k for k in merged if k.startswith(f"{node}.init_args.")]:
            arg = key.rsplit(".", 1)[1]
            assert key in named or merged[key] == defaults[arg].default, f"{key} = {merged[key]} carried from {base}"


def test_extends_errors_are_one_line(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop\n")
    with pytest.raises(UserError, match="loops"):
        recipe_config(str(loop))
    orphan = tmp_path / "orphan.yaml"
    orphan.write_text("extends: no_such_recipe\n")
    with pytest.raises(UserError, match="no_such_recipe") as error:
        recipe_config(str(orphan))
    assert "\n" not in str(error.value)

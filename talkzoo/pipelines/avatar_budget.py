"""Budgets of `talkzoo avatar` / `talkzoo demo`: named, readable YAML presets (configs/budgets/NAME.yaml).

A budget says how big and how long: the preprocessing size and held-out length, torch's threads, and for every
training stage of the registry (talkzoo.methods, by stage name) its optimiser steps, the presets stacked on its
recipe and any extra `talkzoo fit` options. `demo:` describes the synthetic video `talkzoo demo` makes with it.

    talkzoo avatar me.mp4 --out outputs/me --budget fast          # configs/budgets/fast.yaml
    talkzoo avatar me.mp4 --out outputs/me --budget my_budget.yaml   # a copy you edited

A stage of a chosen method without an entry, or an entry that names no registered stage, is an error naming the
file and the fix: a method registered later joins by adding its stages' lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from talkzoo.methods import Stage, all_stages
from talkzoo.recipes import CONFIG_ROOT
from talkzoo.zoo.errors import UserError

BUDGET_DIR = CONFIG_ROOT / "budgets"
TOP_KEYS = {"preprocess", "threads", "lanes", "share_threads", "stages", "demo"}
STAGE_KEYS = {"steps", "presets", "overrides"}
PREPROCESS_KEYS = {"size", "val_seconds"}
DEMO_KEYS = {"seconds", "size", "style", "val_seconds", "seed", "truth_images"}


@dataclass(frozen=True)
class StageBudget:
    """One stage's share: steps (optimiser steps as Lightning counts them: the GAN recipes take 2 per batch; None:
    the recipe's own max_steps), presets (stacked after the recipe, names or files), overrides (fit options)."""

    steps: int | None
    presets: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoVideo:
    """The synthetic video `talkzoo demo` makes (talkzoo synth): seconds, size², style ("easy" | "hard"), seed,
    the held-out seconds its avatar run keeps for evaluation, and whether its ground-truth speaker folder also gets
    the frame, parsing and torso images (truth_images; the demo reads only its arrays: 10 of the 60 s video's 26 s
    of synthesis go to those images)."""

    seconds: float
    size: int
    style: str = "easy"
    val_seconds: float | None = None
    seed: int = 0
    truth_images: bool = False


@dataclass(frozen=True)
class Budget:
    """A parsed budget file. size: preprocessing output (square, px) = training resolution. val_seconds: the
    held-out clip (None: the last 1/11 of the video). threads: torch intra-op threads (None: torch's default).
    lanes: training stages run side by side (stages that do not read each other's checkpoints), each in its own
    process with threads / lanes torch threads; 1: one after the other in this process. share_threads: a stage
    left running alone takes the idle lanes' threads (faster, but the moment depends on timing, so the stage's
    floating-point sums, and its result to the bit, vary from run to run); False: threads / lanes throughout."""

    name: str
    path: Path
    size: int
    val_seconds: float | None
    threads: int | None
    lanes: int = 1
    share_threads: bool = True
    stages: dict[str, StageBudget] = field(default_factory=dict)
    demo: DemoVideo | None = None

    def stage(self, stage: Stage) -> StageBudget:
        """This budget's entry for `stage`; UserError naming the file when it has none."""
        if stage.name not in self.stages:
            raise UserError(
                f"budget {self.path} has no entry for stage {stage.name!r} (recipe {stage.recipe}); add "
                f"`{stage.name}: {{steps: N, presets: [{stage.cpu_preset or ''}]}}` under `stages:`"
            )
        return self.stages[stage.name]


def budget_names() -> list[str]:
    """The shipped budgets' names (configs/budgets/*.yaml)."""
    return sorted(path.stem for path in BUDGET_DIR.glob("*.yaml"))


def budget_path(value: str | Path) -> Path:
    """A budget name (fast, cpu, gpu) or a YAML path → the file; UserError for neither."""
    path = Path(value)
    if path.is_file():
        return path
    if str(value) in budget_names():
        return BUDGET_DIR / f"{value}.yaml"
    raise UserError(
        f"--budget {value}: no such budget file or name; use one of {', '.join(budget_names())} or a YAML path "
        f"(copy one from {BUDGET_DIR})"
    )


def _keys(section: Any, allowed: set[str], where: str, path: Path) -> dict[str, Any]:
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise UserError(f"{path}: `{where}` must be a mapping, got {type(section).__name__}")
    unknown = sorted(set(section) - allowed)
    if unknown:
        allowed_text = ", ".join(sorted(allowed))
        raise UserError(f"{path}: unknown key(s) {', '.join(unknown)} in `{where}`; allowed: {allowed_text}")
    return section


def _boolean(value: Any, what: str, path: Path) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{path}: `{what}` must be true or false, got {value!r}")
    return value


def _positive(value: Any, what: str, path: Path, integer: bool = True, optional: bool = True) -> Any:
    if value is None and optional:
        return None
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise UserError(f"{path}: {what} must be a positive {'integer' if integer else 'number'}, got {value!r}")
    return value


def _strings(value: Any, what: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UserError(f"{path}: {what} must be a list of strings, got {value!r}")
    return tuple(value)


def load_budget(value: str | Path) -> Budget:
    """Read and check a budget (a name or a path)."""
    path = budget_path(value)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    data = _keys(data, TOP_KEYS, "the budget", path)
    pre = _keys(data.get("preprocess"), PREPROCESS_KEYS, "preprocess", path)
    if "size" not in pre:
        raise UserError(f"{path}: `preprocess.size` (the training resolution, px) is required")
    registered = all_stages()
    stages: dict[str, StageBudget] = {}
    entries = data.get("stages")
    for name, entry in _keys(entries, set(entries or {}), "stages", path).items():
        if name not in registered:
            raise UserError(
                f"{path}: `stages.{name}` names no registered stage; the stages are {', '.join(registered)} "
                "(`talkzoo recipes`)"
            )
        entry = _keys(entry, STAGE_KEYS, f"stages.{name}", path)
        stages[name] = StageBudget(
            steps=_positive(entry.get("steps"), f"stages.{name}.steps", path),
            presets=_strings(entry.get("presets"), f"stages.{name}.presets", path),
            overrides=_strings(entry.get("overrides"), f"stages.{name}.overrides", path),
        )
    demo = None
    if data.get("demo") is not None:
        d = _keys(data["demo"], DEMO_KEYS, "demo", path)
        demo = DemoVideo(
            seconds=float(_positive(d.get("seconds"), "demo.seconds", path, integer=False, optional=False)),
            size=_positive(d.get("size"), "demo.size", path, optional=False),
            style=str(d.get("style", "easy")),
            val_seconds=_positive(d.get("val_seconds"), "demo.val_seconds", path, integer=False),
            seed=int(d.get("seed", 0)),
            truth_images=_boolean(d.get("truth_images", False), "demo.truth_images", path),
        )
    return Budget(
        name=path.stem,
        path=path,
        size=_positive(pre["size"], "preprocess.size", path, optional=False),
        val_seconds=_positive(pre.get("val_seconds"), "preprocess.val_seconds", path, integer=False),
        threads=_positive(data.get("threads"), "threads", path),
        lanes=_positive(data.get("lanes", 1), "lanes", path, optional=False),
        share_threads=_boolean(data.get("share_threads", True), "share_threads", path),
        stages=stages,
        demo=demo,
    )

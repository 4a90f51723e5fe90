"""Recipes by name: `talkzoo fit --config moda --config moda_cpu` from any directory.

The recipes ship inside the package (`talkzoo.configs`, the repository's configs/ folder): training recipes at its
top level, CPU presets in presets/, trainer presets in trainer/, logger presets in logger/. A `--config` value that
is an existing file, or that names a path (a `/` or a `.yaml` ending), is used as it is; a bare name is looked up
in those folders (names are unique across them); "presets/moda_cpu" style names resolve inside the package too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from talkzoo import configs
from talkzoo.zoo.errors import UserError

CONFIG_ROOT = Path(configs.__file__).resolve().parent
KINDS = {"": "recipe", "presets": "preset", "trainer": "trainer", "logger": "logger"}


@dataclass(frozen=True)
class RecipeFile:
    """One YAML file of the shipped configs: name (file stem), kind (recipe, preset, trainer, logger), path,
    summary (the first sentence of its leading comment)."""

    name: str
    kind: str
    path: Path
    summary: str


def _summary(path: Path) -> str:
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").rstrip())
    text = " ".join(part for part in lines if part)
    for stop in (". ", ": "):
        if stop in text:
            text = text.split(stop, 1)[0]
    return text.rstrip(".:")


def recipe_files() -> list[RecipeFile]:
    """Every shipped recipe and preset, recipes first, each kind sorted by name."""
    found = []
    for folder, kind in KINDS.items():
        for path in sorted((CONFIG_ROOT / folder).glob("*.yaml")):
            found.append(RecipeFile(path.stem, kind, path, _summary(path)))
    return found


def resolve_config(value: str) -> str:
    """A `--config` value → the file to read (see the module docstring); UserError for an unknown name."""
    if Path(value).is_file():
        return value
    inside = CONFIG_ROOT / (value if value.endswith((".yaml", ".yml")) else f"{value}.yaml")
    if "/" in value and inside.is_file():  # "presets/moda_cpu", "trainer/cpu_smoke.yaml"
        return str(inside)
    if "/" in value or value.endswith((".yaml", ".yml")):
        return value  # a path that does not exist: LightningCLI reports it
    matches = [f.path for f in recipe_files() if f.name == value]
    if not matches:
        names = ", ".join(f.name for f in recipe_files())
        raise UserError(f"--config {value}: no such file or recipe; use a YAML path or one of: {names}")
    return str(matches[0])


def resolve_config_args(args: list[str]) -> list[str]:
    """Command-line arguments with every `--config NAME` / `--config=NAME` resolved to its file."""
    out: list[str] = []
    expect = False
    for arg in args:
        if expect:
            out.append(resolve_config(arg))
            expect = False
        elif arg == "--config":
            out.append(arg)
            expect = True
        elif arg.startswith("--config="):
            out.append("--config=" + resolve_config(arg.split("=", 1)[1]))
        else:
            out.append(arg)
    return out

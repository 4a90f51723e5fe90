"""Tiny trained runs for measuring speed (the streaming bench, `make e2e`): speed does not depend on training."""

from __future__ import annotations

from pathlib import Path


def make_tiny_runs(out: Path, method: str = "moda", size: int = 64, seconds: float = 4.0) -> tuple[Path, Path]:
    """A synthetic speaker (`size`², `seconds`) and every stage of `method` fitted for 2 steps with its CPU preset
    (speed does not depend on training): (runs folder, speaker folder). Reuses what `out` already holds."""
    from talkzoo.datamodules.synthetic import synthesize

    speaker = out / "synth" / "speaker"
    if not (speaker / "speaker.json").is_file():
        synthesize(out / "synth", seconds=seconds, size=size, seed=0, progress=False)
    return fit_tiny_stages(out / "runs", speaker, method, size), speaker


def fit_tiny_stages(
    runs: Path, speaker: Path, method: str, size: int, cpu_preset: bool = True, accelerator: str = "cpu"
) -> Path:
    """Every stage of `method` fitted for 2 steps on `speaker` at `size`² into `runs` (stages already there are
    kept): with each stage's CPU preset (narrow networks) or, `cpu_preset=False`, the recipe's own widths, on
    `accelerator` ("cpu", "cuda", "auto"). Returns `runs`."""
    from talkzoo.methods import get_method
    from talkzoo.pipelines.train import run_lightning_cli
    from talkzoo.recipes import resolve_config_args

    for stage in get_method(method).stages:
        if stage.checkpoint(runs).is_file():
            continue
        args = ["fit", "--config", stage.recipe]
        args += ["--config", stage.cpu_preset] if cpu_preset and stage.cpu_preset else []
        args += ["--config", "cpu_smoke", f"--trainer.accelerator={accelerator}"]
        args += ["--trainer.default_root_dir", str(stage.run_dir(runs)), *stage.fit_overrides(speaker, runs, size)]
        run_lightning_cli(resolve_config_args(args))
    return runs

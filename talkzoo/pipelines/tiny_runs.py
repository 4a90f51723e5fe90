"""Tiny trained runs for measuring speed (the streaming bench, `make e2e`): speed does not depend on training."""

from __future__ import annotations

from pathlib import Path


def make_tiny_runs(out: Path, method: str = "moda", size: int = 64, seconds: float = 4.0) -> tuple[Path, Path]:
    """A synthetic speaker (`size`², `seconds`) and every stage of `method` fitted for 2 steps with its CPU preset
    (speed does not depend on training): (runs folder, speaker folder). Reuses what `out` already holds."""
    from talkzoo.datamodules.synthetic import synthesize
    from talkzoo.methods import get_method
    from talkzoo.pipelines.train import run_lightning_cli
    from talkzoo.recipes import resolve_config_args

    speaker = out / "synth" / "speaker"
    if not (speaker / "speaker.json").is_file():
        synthesize(out / "synth", seconds=seconds, size=size, seed=0, progress=False)
    runs = out / "runs"
    for stage in get_method(method).stages:
        if stage.checkpoint(runs).is_file():
            continue
        args = ["fit", "--config", stage.recipe, *(["--config", stage.cpu_preset] if stage.cpu_preset else [])]
        args += ["--config", "cpu_smoke", "--trainer.default_root_dir", str(stage.run_dir(runs))]
        args += stage.fit_overrides(speaker, runs, size)
        run_lightning_cli(resolve_config_args(args))
    return runs, speaker

"""LightningCLI plumbing: every recipe fits on CPU; W&B offline and TensorBoard; a killed run resumes.

DDP on 2 CPU processes is tested per recipe in tests/test_moda.py (fit, then reload and predict).

Recipes read their speaker from `outputs/synth/speaker` (relative to the working directory), so each test runs
in a temporary folder where that path links to the tiny synthetic speaker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from talkzoo.cli import main

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "configs").glob("*.yaml"))
SMOKE = ROOT / "configs" / "trainer" / "cpu_smoke.yaml"
MODA_CPU = ROOT / "configs" / "presets" / "moda_cpu.yaml"


def _talkzoo(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline"}
    return subprocess.run(
        [sys.executable, "-m", "talkzoo.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _checkpoints(workdir: Path) -> list[Path]:
    return sorted(workdir.glob("runs/**/*.ckpt"))


def test_recipes_exist() -> None:
    assert RECIPES, "configs/ must hold at least one recipe"


# stages that load earlier stages' runs from runs/<recipe> (their defaults); one process is enough for those
PREREQUISITES = {
    "ernerf_torso": ("ernerf_head",),
    "talkinggaussian_fuse": ("talkinggaussian_mouth", "talkinggaussian_face"),
}


def _fit_prerequisites(recipe: Path) -> None:
    for stage in PREREQUISITES.get(recipe.stem, ()):
        assert main(["fit", "--config", str(ROOT / "configs" / f"{stage}.yaml"), "--config", str(SMOKE)]) == 0


# The shipped networks at a smaller image where the recipe's own size only costs CPU time: the renderer's 8 levels
# and full widths at 256² (the least 8 levels allow) instead of 512² — 26 s instead of 76 s on 2 cores.
SMALLER_IMAGES = {"portrait_renderer": ["--data.init_args.size", "256"]}


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_every_recipe_fits_two_steps(recipe: Path, workdir: Path) -> None:
    _fit_prerequisites(recipe)
    assert main(["fit", "--config", str(recipe), "--config", str(SMOKE), *SMALLER_IMAGES.get(recipe.stem, [])]) == 0
    checkpoints = _checkpoints(workdir)
    assert checkpoints, "the recipe must save checkpoints"
    state = torch.load(checkpoints[-1], map_location="cpu", weights_only=True)  # tensors and plain Python only
    assert state["global_step"] == 2


DDP_RECIPES = [r for r in RECIPES if not r.stem.startswith("moda")]  # MODA's DDP test (+ reload) is in test_moda.py


@pytest.mark.slow
@pytest.mark.parametrize("recipe", DDP_RECIPES, ids=[r.stem for r in DDP_RECIPES])
def test_every_recipe_fits_with_ddp_on_two_cpu_processes(recipe: Path, workdir: Path) -> None:
    _fit_prerequisites(recipe)
    ddp = ROOT / "configs" / "trainer" / "ddp_cpu.yaml"
    preset = ROOT / "configs" / "presets" / f"{recipe.stem}_cpu.yaml"  # CPU sizes where the recipe has them
    configs = [recipe, *([preset] if preset.is_file() else []), SMOKE, ddp]
    result = _talkzoo("fit", *[arg for config in configs for arg in ("--config", str(config))], cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Starting with 2 processes" in result.stdout + result.stderr
    last = next(workdir.glob(f"runs/{recipe.stem}*/checkpoints/last.ckpt"), None) or _checkpoints(workdir)[-1]
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 2


@pytest.mark.parametrize("logger", ["wandb_offline", "tensorboard"])
def test_logger_presets(logger: str, workdir: Path) -> None:
    recipe = ROOT / "configs" / "moda.yaml"
    preset = ROOT / "configs" / "logger" / f"{logger}.yaml"
    args = ["--config", str(recipe), "--config", str(MODA_CPU), "--config", str(SMOKE), "--config", str(preset)]
    assert main(["fit", *args]) == 0
    if logger == "wandb_offline":
        import wandb

        wandb.finish()  # Lightning leaves the run open; finishing flushes its event file (written asynchronously)
        runs = list((workdir / "runs" / "wandb").glob("offline-run-*"))
        assert runs, "an offline W&B run must be written under runs/wandb"
        assert any(runs[0].glob("run-*.wandb")), "the offline run must hold its event file"
    else:
        assert list((workdir / "runs" / "tensorboard").glob("version_*/events.out.tfevents.*"))


def test_killed_run_resumes_from_last_checkpoint(workdir: Path) -> None:
    recipe = ROOT / "configs" / "moda.yaml"
    every_step = workdir / "every_step.yaml"
    every_step.write_text(  # the recipe's checkpoint callback, tuned by name
        "trainer:\n  accelerator: cpu\n  max_steps: 100000\n  max_epochs: -1\n  enable_progress_bar: false\n"
        "callbacks:\n  checkpoint:\n    init_args: {dirpath: runs/resume/checkpoints, every_n_train_steps: 1}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "talkzoo.cli",
            "fit",
            "--config",
            str(recipe),
            "--config",
            str(MODA_CPU),
            "--config",
            str(every_step),
        ],  # fmt: skip
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = workdir / "runs" / "resume" / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    step = 0
    try:
        while time.monotonic() < deadline and step < 5:
            time.sleep(0.5)
            if last.is_file():
                try:
                    step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
                except (RuntimeError, EOFError, KeyError):
                    step = 0  # caught mid-write of an older, non-atomic save: read again
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert step >= 5, "training never reached step 5"
    killed_at = torch.load(last, map_location="cpu", weights_only=True)["global_step"]

    target = killed_at + 3
    result = _talkzoo(
        "fit", "--config", str(recipe), "--config", str(MODA_CPU), "--config", str(every_step),
        "--trainer.max_steps", str(target), "--ckpt_path", "last", cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Restoring states from the checkpoint" in result.stdout + result.stderr
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == target

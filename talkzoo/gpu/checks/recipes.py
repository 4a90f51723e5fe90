"""Section 2: every recipe in configs/ through the real `talkzoo fit` (LightningCLI, in this process) for a few steps
on the pre-made speaker, in each mixed precision of the profile (CUDA: bf16-mixed and 16-mixed at 512², the
recipes' own widths; the CPU rehearsal: bf16-mixed at 64² with the recipes' CPU presets).

Per precision: no inf/NaN in any logged value or parameter; the main loss going down (`probe.MAIN_METRICS`: mean
of the last quarter of the batches below the first quarter's, judged from 10 batches on); peak CUDA memory;
batches/s; for 16-mixed the GradScaler's final scale and how often it skipped a step. Validation is off and the
logger writes CSV (a check writes no media and needs neither MediaPipe nor W&B). The options binding a recipe to the
speaker come from the method registry (talkzoo.methods) when it lists the recipe or its base, else from the
recipe's data section; a method's later stage finds the earlier stage's run where its recipe expects it.
"""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any

import torch
import yaml

from talkzoo.gpu.checks import CheckSpec
from talkzoo.gpu.checks.common import CheckContext, Outcome
from talkzoo.gpu.checks.probe import TrainingProbe

PROBE = "talkzoo.gpu.checks.probe.TrainingProbe"
TREND_BATCHES = 10  # fewer batches say nothing about a loss's trend (GAN recipes take 2 optimizer steps a batch)
CSV = "lightning.pytorch.loggers.CSVLogger"  # a logger without dependencies (LearningRateMonitor needs one)


def _chain(config_dir: Path, recipe: str) -> list[dict[str, Any]]:
    """The recipe's YAML and those of the recipes it `extends` (a variant states only what differs), itself first."""
    configs, name = [], recipe
    while name and len(configs) < 10:
        path = config_dir / f"{Path(name).stem}.yaml"
        config = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
        configs.append({"name": Path(name).stem, **config})
        name = config.get("extends")
    return configs


def _stage(names: list[str]) -> Any | None:
    """The registry stage trained with the first of `names` it lists (None without a registry or a match)."""
    try:
        from talkzoo.methods import all_stages
    except ImportError:
        return None
    stages = list(all_stages().values())
    return next((s for name in names for s in stages if s.recipe == name), None)


def speaker_overrides(ctx: CheckContext, recipe: str, runs: Path) -> list[str]:
    """`talkzoo fit` options binding `recipe` to the speaker at the profile's size (earlier stages' runs in `runs`):
    the registry's stage options for the recipe (or the recipe it extends), else the recipe's data section's."""
    speaker = ctx.require_speaker()
    chain = _chain(ctx.config_dir, recipe)
    stage = _stage([c["name"] for c in chain])
    if stage is not None:
        return stage.fit_overrides(speaker, runs, ctx.profile.size)
    data: dict[str, Any] = {}
    for config in reversed(chain):
        data.update(((config.get("data") or {}).get("init_args")) or {})
    options = []
    if "speakers" in data:
        options.append(f"--data.init_args.speakers={json.dumps([str(speaker)])}")
    if "speaker" in data:
        options.append(f"--data.init_args.speaker={speaker}")
    if "size" in data:
        options.append(f"--data.init_args.size={ctx.profile.size}")
    return options


def fit(ctx: CheckContext, recipe: str, precision: str, steps: int, seconds: int, folder: Path) -> TrainingProbe:
    """`talkzoo fit` of `recipe` for `steps` optimizer steps (at most `seconds`), run from `folder`: the recipe's
    own run folder (runs/<name>/, where the next stage of a method looks for it) lands in folder/runs/."""
    from talkzoo.pipelines.train import run_lightning_cli

    folder.mkdir(parents=True, exist_ok=True)
    options = speaker_overrides(ctx, recipe, folder / "runs")
    chain = _chain(ctx.config_dir, recipe)
    roots = [(c.get("trainer") or {}).get("default_root_dir") for c in chain]
    run_dir = folder / next((r for r in roots if r), f"runs/{recipe}")  # the logger's config.yaml goes beside it
    configs = [ctx.config_dir / f"{recipe}.yaml"]
    presets = [ctx.config_dir / "presets" / f"{c['name']}_cpu.yaml" for c in chain]
    preset = next((p for p in presets if p.is_file()), None)  # a variant takes its base recipe's CPU preset
    if ctx.profile.cpu_presets and preset is not None:
        configs.append(preset)
    minutes, secs = divmod(max(seconds, 1), 60)
    args = ["fit", *[a for c in configs for a in ("--config", str(c))], *options]
    args += [
        f"--trainer.max_steps={steps}", "--trainer.max_epochs=-1", f"--trainer.max_time=00:00:{minutes:02d}:{secs:02d}",
        f"--trainer.precision={precision}", f"--trainer.accelerator={'gpu' if ctx.cuda else 'cpu'}",
        "--trainer.devices=1", f"--trainer.logger={CSV}", f"--trainer.logger.init_args.save_dir={run_dir}",
        "--trainer.limit_val_batches=0", "--trainer.num_sanity_val_steps=0", "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false", f"--trainer.callbacks+={PROBE}",
        "--trainer.log_every_n_steps=1",  # the probe reads every batch's train/* values (step_logging)
    ]  # fmt: skip
    if not ctx.cuda:
        args.append("--data.init_args.num_workers=0")
    count = len(TrainingProbe.INSTANCES)
    previous = Path.cwd()
    os.chdir(folder)  # relative run folders in the recipes (runs/<stage>/...) resolve here
    try:
        run_lightning_cli(args)
    finally:
        os.chdir(previous)
    if len(TrainingProbe.INSTANCES) <= count:
        raise RuntimeError("the training probe was not instantiated: LightningCLI ignored --trainer.callbacks+=")
    probe = TrainingProbe.INSTANCES[-1]
    probe.root_dir = str((folder / (probe.root_dir or run_dir)).resolve())  # absolute paths stay as they are
    return probe


def summarise(outcome: Outcome, probe: TrainingProbe, prefix: str) -> None:
    """Metrics and criteria of one fit, named `<prefix>/...`."""
    key = probe.main_metric()
    values = probe.series(key)
    batches = len(probe.steps)
    outcome.metric(f"{prefix}/precision", probe.precision)
    outcome.metric(f"{prefix}/batches", batches)
    outcome.metric(f"{prefix}/seconds", probe.seconds)
    if probe.seconds:
        outcome.metric(f"{prefix}/batches_per_s", batches / probe.seconds)
    outcome.metric(f"{prefix}/peak_cuda_mb", probe.peak_cuda_mb)
    outcome.metric(f"{prefix}/main_metric", key or "loss")
    if probe.initial_scale is not None:
        outcome.metric(f"{prefix}/loss_scale_final", probe.steps[-1]["scale"] if probe.steps else None)
        outcome.metric(f"{prefix}/skipped_steps", probe.scale_drops())
    bad = probe.nonfinite()
    outcome.criterion(
        f"{prefix}: no inf/NaN", bad == 0 and bool(probe.params_finite),
        f"{bad} non-finite logged value(s); parameters finite: {probe.params_finite}",
    )  # fmt: skip
    outcome.criterion(f"{prefix}: trained ≥ 2 batches", batches >= 2, f"{batches} batch(es)")
    if len(values) >= 2:
        k = max(1, len(values) // 4)
        first, last = sum(values[:k]) / k, sum(values[-k:]) / k
        outcome.metric(f"{prefix}/{key or 'loss'}_first", first)
        outcome.metric(f"{prefix}/{key or 'loss'}_last", last)
        if len(values) >= TREND_BATCHES:
            outcome.criterion(f"{prefix}: {key or 'loss'} goes down", last < first, f"{first:.5g} → {last:.5g}")
        else:
            outcome.note(f"{prefix}: {len(values)} batches are too few to judge the trend (≥ {TREND_BATCHES})")


def run(ctx: CheckContext, spec: CheckSpec) -> Outcome:
    recipe = spec.name.split(".", 1)[1]
    outcome = Outcome()
    for precision in ctx.profile.precisions:
        with outcome.attempt(precision):
            folder = ctx.work / f"recipes_{precision}"
            probe = fit(ctx, recipe, precision, ctx.profile.recipe_steps, ctx.profile.recipe_seconds, folder)
            summarise(outcome, probe, precision)
        gc.collect()
        if ctx.cuda:
            torch.cuda.empty_cache()
    return outcome

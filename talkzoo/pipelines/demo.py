"""`talkzoo demo`: the main job, end to end on the embedded synthetic speaker, offline, resumable.

1. synthesise a talking video (a real face photo + bundled speech) → `synth/raw.mp4` (+ its exact ground truth);
2. preprocess that video with the real pipeline (`talkzoo preprocess`) → `speaker/`, the folder a user would get;
3. train MODA (motion, FaCo-Net, renderer) and ER-NeRF (head, torso) on the train split through LightningCLI;
4. generate both methods from the held-out audio (the val split: never trained on) → `moda.mp4`, `ernerf.mp4`;
5. `side_by_side.mp4` (ground truth | MODA | ER-NeRF, with the audio), `frame_grid.png`, `mouth_opening.png`,
   `talkzoo evaluate` of each video and MODA's motion metrics → a printed table and `metrics.json`.

Every step skips what is done: training resumes from its last checkpoint, videos are kept once written.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from talkzoo.datamodules.media import read_audio
from talkzoo.datamodules.preprocess import PreprocessConfig, preprocess
from talkzoo.datamodules.sequence import MotionDataModule
from talkzoo.datamodules.speaker import Speaker
from talkzoo.datamodules.synthetic import synthesize
from talkzoo.datamodules.validate import validate_speaker
from talkzoo.lightning_modules.moda import MODA
from talkzoo.lightning_modules.run_loading import load_run_module
from talkzoo.methods import METHODS, Stage, all_stages, get_method
from talkzoo.pipelines.demo_media import (
    frame_grid,
    mouth_opening_plot,
    mouth_series,
    write_heldout_audio,
    write_side_by_side,
)
from talkzoo.pipelines.evaluate import evaluate_video, to_json
from talkzoo.pipelines.generate import generate
from talkzoo.pipelines.train import run_lightning_cli
from talkzoo.recipes import resolve_config
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.metrics.sync import frame_energy

PICTURES = ("frame_grid.png", "mouth_opening.png")


@dataclass(frozen=True)
class DemoSettings:
    """Budgets of one demo run (full or --fast). `steps` maps each registered stage (talkzoo.methods) to its
    optimiser steps, counted as Lightning does (the GAN recipes take 2 per batch: discriminator and generator)."""

    seconds: float  # synthetic video length
    synth_size: int  # the synthetic "camera" resolution
    size: int  # preprocessing output = training resolution
    steps: dict[str, int]
    methods: tuple[str, ...] = field(default=("moda", "ernerf"))


FULL = DemoSettings(
    seconds=60.0, synth_size=256, size=96,
    steps={"moda": 1200, "faconet": 600, "renderer": 3000, "ernerf_head": 5000, "ernerf_torso": 600},
)  # fmt: skip
FAST = DemoSettings(
    seconds=24.0, synth_size=128, size=64,
    steps={"moda": 400, "faconet": 150, "renderer": 600, "ernerf_head": 800, "ernerf_torso": 100},
)  # fmt: skip
LABELS = {"moda": "MODA", "ernerf": "ER-NeRF"}


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def _done(started: float) -> None:
    print(f"   {time.perf_counter() - started:.1f} s", flush=True)


def _synthesize(out: Path, settings: DemoSettings) -> Path:
    """The synthetic talking video (raw.mp4) and its ground-truth speaker; reused when it matches the settings."""

    truth = out / "synth" / "speaker"
    report = validate_speaker(truth) if (truth / "speaker.json").is_file() else None
    wanted = f"{settings.synth_size}x{settings.synth_size}"
    if report is not None and report.ok and report.summary.get("size") == wanted:
        print(f"reusing {out / 'synth' / 'raw.mp4'}")
    else:
        synthesize(out / "synth", seconds=settings.seconds, size=settings.synth_size, seed=0, progress=True)
    return out / "synth" / "raw.mp4"


def _preprocess(video: Path, out: Path, settings: DemoSettings) -> Path:
    """`talkzoo preprocess` of the synthetic video (resumable), then the validator."""

    speaker = out / "speaker"
    result = preprocess(video, speaker, PreprocessConfig(size=settings.size), progress=True)
    if not result.ran:
        print(f"reusing {speaker}")
    report = validate_speaker(speaker)
    print(report.format_summary())
    if not report.ok:
        raise UserError(f"the preprocessed speaker did not validate: {report.problems[0]}")
    return speaker


def fit_recipe(recipe: str, presets: list[str], run_dir: Path, max_steps: int, overrides: list[str]) -> Path:
    """`talkzoo fit` of a recipe + presets (names or files) into run_dir; resumes from / reuses its last.ckpt."""

    last = run_dir / "checkpoints" / "last.ckpt"
    args = ["fit", "--config", resolve_config(recipe)]
    for preset in presets:
        args += ["--config", resolve_config(preset)]
    args += [
        "--trainer.default_root_dir", str(run_dir),
        "--trainer.max_steps", str(max_steps),
        "--trainer.enable_progress_bar", "true",
        "--trainer.enable_model_summary", "false",
        "--trainer.limit_val_batches", "0",  # the demo evaluates once, at the end, on held-out audio
        "--trainer.num_sanity_val_steps", "0",
        *overrides,
    ]  # fmt: skip
    if last.is_file():
        step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
        if step >= max_steps:
            print(f"reusing {last} (step {step})")
            return last
        print(f"resuming from {last} (step {step})")
        args += ["--ckpt_path", str(last)]
    run_lightning_cli(args)
    return last


def _stages(settings: DemoSettings) -> list[Stage]:
    """Every stage the chosen methods need, in training order: their own, then the motion stages they read."""
    stages: list[Stage] = []
    for name in settings.methods:
        method = get_method(name)
        wanted = [*method.stages, *(all_stages()[s] for s in method.motion_stages)]
        stages += [s for s in wanted if s not in stages]
    order = [s for m in METHODS.values() for s in m.stages]
    return sorted(stages, key=order.index)


def _train(out: Path, speaker: Path, settings: DemoSettings) -> dict[str, Path]:
    """Every stage of the chosen methods, in registry order → {stage: last checkpoint}."""
    runs = out / "runs"
    checkpoints = {}
    for index, stage in enumerate(_stages(settings), start=1):
        steps = settings.steps[stage.name]
        presets = [stage.cpu_preset] if stage.cpu_preset else []
        t = _step(f"3.{index} train {stage.name} ({steps} steps, --config {stage.recipe} + {', '.join(presets)})")
        overrides = stage.fit_overrides(speaker, runs, settings.size)
        checkpoints[stage.name] = fit_recipe(stage.recipe, presets, stage.run_dir(runs), steps, overrides)
        _done(t)
    return checkpoints


def _generate(out: Path, speaker: Path, audio: Path, methods: tuple[str, ...]) -> dict[str, Path]:
    """Every chosen method's Avatar over the held-out audio → {method label: mp4}; kept when already written."""
    videos: dict[str, Path] = {}
    for name in methods:
        target = out / f"{name}.mp4"
        if not target.is_file():
            generate(name, speaker, audio, target, run_dir=out / "runs", device="cpu", progress=True)
        videos[LABELS.get(name, name)] = target
    return videos


def evaluate_motion(checkpoint: Path, speaker: Path) -> dict[str, float]:
    """MODA's motion on the val split (audio never trained on) against the mean-motion baseline: LMD, LMD-v (px),
    mouth-area IoU, mouth-opening correlation, eye / head diversity, `improvement_over_baseline`."""

    model = load_run_module(checkpoint, MODA)
    data = MotionDataModule([str(speaker)], window=100, stride=10, jitter=0, batch_size=4)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    metrics = trainer.validate(model, datamodule=data, verbose=False)[0]
    result = {key.removeprefix("val/"): float(value) for key, value in metrics.items()}
    result["improvement_over_baseline"] = 1.0 - result["lmd"] / result["lmd_mean_baseline"]
    return result


def _pictures(out: Path, speaker: Path, audio: Path, videos: dict[str, Path], frames: Any) -> dict[str, Any]:
    """side_by_side.mp4, frame_grid.png, mouth_opening.png; returns each source's mouth-opening correlation."""

    spk = Speaker(speaker)
    size = max(spk.meta.width, 128)
    video = write_side_by_side(out / "side_by_side.mp4", videos, speaker, frames, audio, size)
    picks = np.linspace(0, len(frames) - 1, 4).round().astype(int)[1:]
    frame_grid(video, [int(i) for i in picks], out / "frame_grid.png")
    series = {"ground truth": mouth_series([spk.frame(int(i)) for i in frames])}
    series.update({name: mouth_series(path)[: len(frames)] for name, path in videos.items()})
    energy = frame_energy(read_audio(audio, 16000), 16000, spk.meta.fps, len(frames))
    mouth_opening_plot(series, energy, spk.meta.fps, out / "mouth_opening.png")
    truth = series["ground truth"]
    corr = {}
    for name, values in series.items():
        n = min(len(values), len(truth))
        ok = np.isfinite(values[:n]) & np.isfinite(truth[:n])
        corr[name] = float(np.corrcoef(values[:n][ok], truth[:n][ok])[0, 1]) if ok.sum() > 2 else float("nan")
    return corr


def _table(motion: dict[str, float] | None, scores: dict[str, dict[str, Any]], corr: dict[str, float]) -> str:
    def num(value: Any, digits: int = 3) -> str:
        return f"{value:.{digits}f}" if isinstance(value, int | float) else "n/a"

    lines = []
    if motion is not None:
        lines += [
            "MODA motion on held-out audio (val split; lip points in pixels):",
            "| model | lip LMD ↓ | LMD-v ↓ | mouth IoU ↑ | mouth-opening corr ↑ | eye / head diversity |",
            "|---|---|---|---|---|---|",
            f"| mean-motion baseline | {motion['lmd_mean_baseline']:.3f} | – | – | – | 0 / 0 |",
            f"| MODA (dual attention) | {motion['lmd']:.3f} | {motion['lmd_v']:.3f} | {motion['ma']:.3f} | "
            f"{motion['mouth_corr']:.3f} | {motion['div_eyes']:.2g} / {motion['div_head']:.2g} |",
            "",
        ]
    lines += [
        "Generated videos vs the ground-truth val frames (`talkzoo evaluate`; MediaPipe lips):",
        "| video | PSNR ↑ | SSIM ↑ | lip LMD (px) ↓ | mouth-opening corr ↑ | NIQE ↓ | sync offset, conf. |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in scores.items():
        sync = s.get("sync")
        sync_text = f"{sync['offset']:+d}, {sync['confidence']:.2f}" if isinstance(sync, dict) else "n/a"
        lines.append(
            f"| {name} | {num(s.get('psnr'), 2)} | {num(s.get('ssim'))} | {num(s.get('lmd'), 2)} | "
            f"{num(corr.get(name))} | {num(s.get('niqe_pred'), 2)} | {sync_text} |"
        )
    return "\n".join(lines)


def run_demo(
    out: str | Path = "outputs/demo",
    fast: bool = False,
    settings: DemoSettings | None = None,
    pictures: str | Path | None = None,
) -> dict[str, Any]:
    """Run every demo step into `out`; returns the metrics (also written to out/metrics.json).

    `settings` overrides the budgets of `fast` (the tests use a smaller one). `pictures`: also copy the PNGs there
    (the README's pictures: `talkzoo demo --pictures docs/images`).
    """

    out = Path(out)
    settings = settings or (FAST if fast else FULL)
    started = time.perf_counter()
    t = _step(f"1/6 synthesise a talking video ({settings.seconds:.0f} s, {settings.synth_size}²)")
    video = _synthesize(out, settings)
    _done(t)
    t = _step(f"2/6 preprocess it like a user's video (talkzoo preprocess, {settings.size}²)")
    speaker = _preprocess(video, out, settings)
    _done(t)
    _step("3/6 train on the train split")
    checkpoints = _train(out, speaker, settings)
    t = _step("4/6 generate from the held-out audio (the val split)")
    audio, frames = write_heldout_audio(speaker, out / "heldout.wav")
    videos = _generate(out, speaker, audio, settings.methods)
    _done(t)
    t = _step("5/6 side-by-side video and pictures")
    corr = _pictures(out, speaker, audio, videos, frames)
    _done(t)
    t = _step("6/6 evaluate")
    motion = evaluate_motion(checkpoints["moda"], speaker) if "moda" in checkpoints else None
    scores = {name: evaluate_video(path, speaker, split="val", torch_threads=1, progress=False)
              for name, path in videos.items()}  # fmt: skip
    _done(t)
    metrics: dict[str, Any] = {"settings": settings.__dict__, "motion": motion, "videos": {}}
    for name, score in scores.items():
        metrics["videos"][name] = {**score, "mouth_corr_tracked": corr.get(name)}
    metrics["total_seconds"] = time.perf_counter() - started

    (out / "metrics.json").write_text(json.dumps(to_json(metrics), indent=2))
    if pictures is not None:
        Path(pictures).mkdir(parents=True, exist_ok=True)
        for name in PICTURES:
            shutil.copy2(out / name, Path(pictures) / name)
    print("\n" + _table(motion, scores, corr))
    print(f"\nwrote {out / 'side_by_side.mp4'}, {out / 'frame_grid.png'}, {out / 'mouth_opening.png'}, "
          f"{out / 'metrics.json'} in {metrics['total_seconds']:.0f} s")  # fmt: skip
    return metrics

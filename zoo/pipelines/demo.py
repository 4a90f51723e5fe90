"""`talkzoo demo`: the main job, end to end on the embedded synthetic speaker, offline, resumable.

Today: synthesise a speaker → validate it → train MODA's motion model (configs/moda.yaml with the CPU preset)
through LightningCLI → score it on held-out audio against the mean-motion baseline → print a table and write
`metrics.json`. Each step skips what is already done; training resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DemoSettings:
    """Budgets of one demo run (full or --fast)."""

    seconds: float
    size: int
    max_steps: int


FULL = DemoSettings(seconds=60.0, size=128, max_steps=600)
FAST = DemoSettings(seconds=20.0, size=64, max_steps=150)


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def _synthesize(out: Path, settings: DemoSettings) -> Path:
    from datamodules.synthetic import synthesize
    from datamodules.validate import validate_speaker

    speaker = out / "synth" / "speaker"
    report = validate_speaker(speaker) if (speaker / "speaker.json").is_file() else None
    if report is not None and report.ok and report.summary.get("size") == f"{settings.size}x{settings.size}":
        print(f"reusing {speaker}")
    else:
        synthesize(out / "synth", seconds=settings.seconds, size=settings.size, seed=0, progress=True)
        report = validate_speaker(speaker)
    print(report.format_summary())
    if not report.ok:
        raise UserError(f"the synthetic speaker did not validate: {report.problems[0]}")
    return speaker


def _train(out: Path, speaker: Path, settings: DemoSettings) -> Path:
    from zoo.pipelines.train import run_lightning_cli

    run_dir = out / "runs" / "moda"
    last = run_dir / "checkpoints" / "last.ckpt"
    args = [
        "fit",
        "--config", str(REPO_ROOT / "configs" / "moda.yaml"),
        "--config", str(REPO_ROOT / "configs" / "presets" / "moda_cpu.yaml"),
        "--data.speakers", json.dumps([str(speaker)]),
        "--trainer.default_root_dir", str(run_dir),
        "--trainer.max_steps", str(settings.max_steps),
        "--trainer.enable_progress_bar", "true",
    ]  # fmt: skip
    if last.is_file():
        step = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
        if step >= settings.max_steps:
            print(f"reusing {last} (step {step})")
            return last
        print(f"resuming from {last} (step {step})")
        args += ["--ckpt_path", str(last)]
    run_lightning_cli(args)
    return last


def evaluate_motion(checkpoint: Path, speaker: Path) -> dict[str, float]:
    """Score MODA on the val split (audio never trained on) against the mean-motion baseline.

    Returns the validation metrics of `lightning_modules.moda.MODA` (LMD, LMD-v in pixels, mouth-area IoU, mouth
    opening correlation, eye/head diversity) and the LMD of the baseline that always predicts the train mean.
    """
    import lightning as L

    from datamodules.sequence import MotionDataModule
    from lightning_modules.moda import MODA

    model = MODA.load_from_checkpoint(checkpoint, map_location="cpu")
    data = MotionDataModule([str(speaker)], window=100, stride=10, jitter=0, batch_size=4)
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    metrics = trainer.validate(model, datamodule=data, verbose=False)[0]
    result = {key.removeprefix("val/"): float(value) for key, value in metrics.items()}
    result["improvement_over_baseline"] = 1.0 - result["lmd"] / result["lmd_mean_baseline"]
    return result


def run_demo(
    out: str | Path = "outputs/demo", fast: bool = False, settings: DemoSettings | None = None
) -> dict[str, float]:
    """Run every demo step into `out`; returns the metrics (also written to out/metrics.json).

    `settings` overrides the budgets of `fast` (the tests use a smaller one).
    """
    out = Path(out)
    settings = settings or (FAST if fast else FULL)
    started = time.perf_counter()
    t = _step(f"1/3 synthetic speaker ({settings.seconds:.0f} s, {settings.size}²)")
    speaker = _synthesize(out, settings)
    print(f"   {time.perf_counter() - t:.1f} s")
    t = _step(f"2/3 train MODA's motion model, dual attention ({settings.max_steps} steps, CPU)")
    checkpoint = _train(out, speaker, settings)
    print(f"   {time.perf_counter() - t:.1f} s")
    t = _step("3/3 evaluate on held-out audio (the val split)")
    metrics = evaluate_motion(checkpoint, speaker)
    metrics["total_seconds"] = time.perf_counter() - started
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(
        "\n| model | lip LMD (px) | LMD-v (px) | mouth IoU | mouth-opening corr | eye / head diversity |\n"
        "|---|---|---|---|---|---|\n"
        f"| mean-motion baseline | {metrics['lmd_mean_baseline']:.3f} | – | – | – | 0 / 0 |\n"
        f"| MODA (dual attention) | {metrics['lmd']:.3f} | {metrics['lmd_v']:.3f} | {metrics['ma']:.3f} | "
        f"{metrics['mouth_corr']:.3f} | {metrics['div_eyes']:.2g} / {metrics['div_head']:.2g} |\n"
        f"\nwrote {out / 'metrics.json'} in {metrics['total_seconds']:.0f} s"
    )
    return metrics

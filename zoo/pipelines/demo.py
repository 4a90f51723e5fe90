"""`talkzoo demo`: the main job, end to end on the embedded synthetic speaker, offline, resumable.

Today it runs the foundation: synthesise a speaker → validate it → train the plumbing recipe
(configs/lip_regressor.yaml) through LightningCLI → score lip prediction on held-out audio against the
mean-motion baseline → print a table and write `metrics.json`. Each step skips what is already done.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from zoo.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
# Outer-lip top / bottom mid points (MediaPipe 0, 17) and inner (13, 14) give the mouth opening.
_MOUTH_PAIRS = ((13, 14), (0, 17))


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

    run_dir = out / "runs" / "lip_regressor"
    last = run_dir / "checkpoints" / "last.ckpt"
    args = [
        "fit",
        "--config", str(REPO_ROOT / "configs" / "lip_regressor.yaml"),
        "--data.speakers", json.dumps([str(speaker)]),
        "--trainer.default_root_dir", str(run_dir),
        "--trainer.max_steps", str(settings.max_steps),
        "--trainer.max_epochs", "-1",
        "--trainer.accelerator", "cpu",
        "--trainer.logger", "false",
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


def _mouth_opening(lips: np.ndarray) -> np.ndarray:
    """lips [..., 40, 3] in canonical units → [...] mean vertical gap of the inner and outer lip mid points."""
    from zoo.face_indices import LIP_INDICES

    position = {index: i for i, index in enumerate(LIP_INDICES)}
    gaps = [lips[..., position[b], 1] - lips[..., position[a], 1] for a, b in _MOUTH_PAIRS]
    return np.mean(gaps, axis=0)


def evaluate_lips(checkpoint: Path, speaker: Path) -> dict[str, float]:
    """Score the lip regressor on the val split (audio never trained on) against the mean-motion baseline.

    Returns the mean lip-point error in canonical units (≈ pixels at the head's depth) of the model and of the
    baseline that always predicts the train mean, and the correlation of predicted and true mouth opening.
    """
    from datamodules.sequence import MotionDataModule
    from lightning_modules.lip_regressor import LipRegressor

    model = LipRegressor.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    data = MotionDataModule([str(speaker)], window=50, stride=10, jitter=0, batch_size=4)
    data.setup("validate")
    stats = data.stats[0]
    mean, std = torch.as_tensor(stats.lips_mean), torch.as_tensor(stats.lips_std)
    predicted, truth = [], []
    with torch.inference_mode():
        for batch in data.val_dataloader():
            mask = batch["mask"]
            predicted.append((model(batch["audio"]) * std + mean)[mask])
            truth.append((batch["lips"] * std + mean)[mask])
    pred, true = torch.cat(predicted).numpy(), torch.cat(truth).numpy()
    model_error = float(np.linalg.norm(pred - true, axis=-1).mean())
    baseline_error = float(np.linalg.norm(stats.lips_mean[None] - true, axis=-1).mean())
    opening_corr = float(np.corrcoef(_mouth_opening(pred), _mouth_opening(true))[0, 1])
    return {
        "val_frames": int(true.shape[0]),
        "lip_error_model": model_error,
        "lip_error_mean_baseline": baseline_error,
        "improvement_over_baseline": 1.0 - model_error / baseline_error,
        "mouth_opening_correlation": opening_corr,
    }


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
    t = _step(f"2/3 train the lip regressor ({settings.max_steps} steps, CPU)")
    checkpoint = _train(out, speaker, settings)
    print(f"   {time.perf_counter() - t:.1f} s")
    t = _step("3/3 evaluate on held-out audio (the val split)")
    metrics = evaluate_lips(checkpoint, speaker)
    metrics["total_seconds"] = time.perf_counter() - started
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(
        "\n| model | lip error (canonical units) | mouth-opening correlation |\n|---|---|---|\n"
        f"| mean-motion baseline | {metrics['lip_error_mean_baseline']:.3f} | – |\n"
        f"| lip regressor | {metrics['lip_error_model']:.3f} | {metrics['mouth_opening_correlation']:.3f} |\n"
        f"\n{metrics['val_frames']} held-out frames; wrote {out / 'metrics.json'} "
        f"in {metrics['total_seconds']:.0f} s"
    )
    return metrics

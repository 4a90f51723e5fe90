"""TalkingGaussian learning check on a synthetic speaker (CPU, bounded budget), and its speed at 128².

Trains the three stages with the CPU presets (configs/presets/talkinggaussian_*_cpu.yaml; every step-valued
schedule field × `--scale`), then on the held-out (val) frames reports
- PSNR on the head region (parsing == 1) of the fused portrait vs a static baseline (the mean training frame), and
  on the full frame;
- whether the rendered mouth follows the held-out audio: Pearson correlation between the inner-mouth darkness proxy
  (talkzoo.zoo.metrics.head_region's `mouth_darkness`) on the renders and the ground-truth lip gap;
- speed: training steps/s of each stage, render frames/s of the fused model at 128² (--bench-size), and the number
  of Gaussians (face + mouth).

    .venv/bin/python scripts/talkinggaussian_learning.py --out outputs/tg_learning --size 96 --seconds 16
Prints one JSON line of results (also written to OUT/results.json).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from talkzoo.zoo.metrics.head_region import HeadRegionScores

ROOT = Path(__file__).resolve().parents[1]


STEP_FIELDS = (
    "warm_step", "select_until", "freeze_step", "lr_horizon", "lpips_start", "sh_up_interval", "densify_from",
    "densify_until", "densify_interval", "size_prune_from", "position_lr_max_steps",
)  # fmt: skip
STAGES = ("mouth", "face", "fuse")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def stage_config(stage: str, scale: float = 1.0) -> tuple[dict[str, Any], int]:
    """The model config ({class_path, init_args}) of recipe + CPU preset, step fields × scale, and max_steps."""
    recipe = yaml.safe_load((ROOT / "configs" / f"talkinggaussian_{stage}.yaml").read_text())
    preset = yaml.safe_load((ROOT / "configs" / "presets" / f"talkinggaussian_{stage}_cpu.yaml").read_text())
    merged = _merge(recipe, preset)
    model = merged["model"]
    args = model["init_args"]
    for name in STEP_FIELDS:
        if args.get(name) is not None:
            args[name] = max(1, int(round(args[name] * scale)))
    return model, max(2, int(round(merged["trainer"]["max_steps"] * scale)))


def build_stage(stage: str, scale: float = 1.0, **overrides: Any) -> tuple[Any, int]:
    """The LightningModule of a stage (CPU preset, scaled schedule, init_args overrides) and its step count."""
    from talkzoo.lightning_modules.run_loading import instantiate_model

    model, steps = stage_config(stage, scale)
    model["init_args"].update(overrides)
    return instantiate_model(model), steps


def fit(module: Any, datamodule: Any, steps: int) -> float:
    """Train `steps` steps (no validation, no checkpoints); returns the wall time in seconds."""
    import lightning as L

    trainer = L.Trainer(
        accelerator="cpu", max_steps=steps, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, limit_val_batches=0, num_sanity_val_steps=0, enable_model_summary=False,
    )  # fmt: skip
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    return time.perf_counter() - start


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """["face.net_lr=0.002", ...] → {"face": {"net_lr": 0.002}} (values parsed as YAML)."""
    out: dict[str, dict[str, Any]] = {stage: {} for stage in STAGES}
    for item in items:
        key, _, value = item.partition("=")
        stage, _, name = key.partition(".")
        if stage not in out or not name or not _:
            raise SystemExit(f"--set {item!r}: expected STAGE.FIELD=VALUE with STAGE in {', '.join(STAGES)}")
        out[stage][name] = yaml.safe_load(value)
    return out


def train_all(
    speaker: str, size: int | None, scale: float, seed: int = 0, overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Mouth, face, then fuse on `speaker` → {"fuse": module, "datamodule": dm, "train_s": {...}, "steps": {...}}.
    overrides: init_args per stage on top of the presets."""
    overrides = overrides or {}
    import lightning as L

    from talkzoo.datamodules.talkinggaussian import TalkingGaussianDataModule
    from talkzoo.lightning_modules.talkinggaussian_fuse import TalkingGaussianFuse

    L.seed_everything(seed)
    datamodule = TalkingGaussianDataModule(speaker, size=size, num_workers=0)
    datamodule.setup("fit")
    times, steps = {}, {}
    branches = {}
    for stage in ("mouth", "face"):
        module, steps[stage] = build_stage(stage, scale, **overrides.get(stage, {}))
        times[stage] = fit(module, datamodule, steps[stage])
        branches[stage] = module
    model, steps["fuse"] = stage_config("fuse", scale)
    args = {k: v for k, v in model["init_args"].items() if not k.endswith("_checkpoint")}
    args.update(val_mouth_metrics=False, **overrides.get("fuse", {}))
    fuse = TalkingGaussianFuse(
        face=branches["face"].branch, mouth=branches["mouth"].branch, head=branches["face"].head, **args
    )
    times["fuse"] = fit(fuse, datamodule, steps["fuse"])
    return {"fuse": fuse, "datamodule": datamodule, "train_s": times, "steps": steps}


@torch.no_grad()
def evaluate(fuse: Any, datamodule: Any) -> dict[str, float]:
    """Head-region / full-frame PSNR of the fused renders and of the mean training frame, and the mouth proxies
    (talkzoo.zoo.metrics.head_region)."""
    fuse.eval()
    mean_frame = torch.stack([datamodule.train_set.base[i]["image"] for i in range(len(datamodule.train_set))]).mean(0)
    scores = HeadRegionScores(mean_frame)
    for batch in datamodule.val_dataloader():
        image = fuse.render_frame(batch)["image"]
        scores.add(image, batch["image"][0], batch["parsing"][0], batch["landmarks"][0])
    return scores.compute()


@torch.no_grad()
def render_speed(fuse: Any, speaker: str, size: int, frames: int = 20) -> dict[str, float]:
    """Render frames/s of the fused model at size² (the val frames' conditioning, data loading excluded)."""
    from talkzoo.datamodules.talkinggaussian import TalkingGaussianDataModule

    datamodule = TalkingGaussianDataModule(speaker, size=size, num_workers=0, val_limit=frames)
    datamodule.setup("fit")
    batches = list(datamodule.val_dataloader())
    fuse.eval()
    fuse.render_frame(batches[0])  # warm-up
    start = time.perf_counter()
    for batch in batches:
        fuse.render_frame(batch)
    elapsed = time.perf_counter() - start
    return {"render_fps": len(batches) / elapsed, "render_size": size, "render_frames": len(batches)}


@torch.no_grad()
def save_grid(fuse: Any, datamodule: Any, path: Path, count: int = 6) -> None:
    """PNG: `count` val frames spread over the split, ground truth (top) over renders (bottom)."""
    from PIL import Image

    from talkzoo.lightning_modules.talkinggaussian_common import to_uint8

    fuse.eval()
    val = datamodule.val_set
    picks = np.linspace(0, len(val) - 1, min(count, len(val))).round().astype(int)
    top, bottom = [], []
    for i in picks:
        batch = {k: v[None] for k, v in val[int(i)].items() if torch.is_tensor(v)}
        top.append(to_uint8(batch["image"][0]))
        bottom.append(to_uint8(fuse.render_frame(batch)["image"]))
    Image.fromarray(np.concatenate((np.concatenate(top, 1), np.concatenate(bottom, 1)), 0)).save(path)


def training_speed(speaker: str, size: int, points: int, steps: int = 30) -> dict[str, float]:
    """Face-stage training steps/s at size² with `points` Gaussians, motion network on (warm_step 0), no
    densification (the per-step cost at a fixed set size)."""
    from talkzoo.datamodules.talkinggaussian import TalkingGaussianDataModule

    datamodule = TalkingGaussianDataModule(speaker, size=size, num_workers=0)
    datamodule.setup("fit")
    face, _ = build_stage("face", 1.0, init_num=points, warm_step=0, densify_from=10**9, sh_up_interval=1)
    fit(face, datamodule, 3)  # warm-up (initialisation, first allocations)
    elapsed = fit(face, datamodule, 3 + steps)
    return {"train_steps_per_s": steps / elapsed, "train_points": face.branch.gaussians.num_points}


def load_fuse(path: Path) -> Any:
    """The fused model saved by a run of this script (OUT/fuse.pt)."""
    from talkzoo.lightning_modules.talkinggaussian_fuse import TalkingGaussianFuse

    face, _ = build_stage("face")
    mouth, _ = build_stage("mouth")
    fuse = TalkingGaussianFuse(face=face.branch, mouth=mouth.branch, head=face.head, val_mouth_metrics=False)
    fuse.load_state_dict(torch.load(path, weights_only=True))
    return fuse.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="outputs/tg_learning")
    parser.add_argument("--speaker", default=None, help="use this speaker folder instead of synthesising one")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every schedule length of the presets")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bench-size", type=int, default=128)
    parser.add_argument("--set", action="append", default=[], help="STAGE.FIELD=VALUE over the presets")
    parser.add_argument("--bench-only", action="store_true", help="only the speeds, with OUT/fuse.pt of a former run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    speaker = Path(args.speaker) if args.speaker else out / "speaker"
    if not (speaker / "speaker.json").is_file():
        from talkzoo.datamodules.synthetic import synthesize

        synthesize(out, seconds=args.seconds, size=args.size, seed=args.seed, progress=False)
    if args.bench_only:
        fuse = load_fuse(out / "fuse.pt")
        speeds = render_speed(fuse, str(speaker), args.bench_size)
        points = fuse.face.gaussians.num_points + fuse.mouth.gaussians.num_points
        speeds.update(training_speed(str(speaker), args.bench_size, points), gaussians=points)
        (out / "speed.json").write_text(json.dumps(speeds, indent=2))
        print(json.dumps(speeds))
        return
    run = train_all(str(speaker), args.size, args.scale, overrides=parse_overrides(args.set))
    fuse = run["fuse"]
    torch.save(fuse.state_dict(), out / "fuse.pt")
    save_grid(fuse, run["datamodule"], out / "val_frames.png")
    results: dict[str, Any] = evaluate(fuse, run["datamodule"])
    results.update(render_speed(fuse, str(speaker), args.bench_size))
    results.update(
        size=args.size, scale=args.scale, overrides=args.set, train_frames=len(run["datamodule"].train_set),
        threads=args.threads,
        gaussians_face=fuse.face.gaussians.num_points, gaussians_mouth=fuse.mouth.gaussians.num_points,
        steps=run["steps"], train_s={k: round(v, 1) for k, v in run["train_s"].items()},
        steps_per_s={k: round(run["steps"][k] / v, 2) for k, v in run["train_s"].items()},
    )  # fmt: skip
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))


if __name__ == "__main__":
    main()

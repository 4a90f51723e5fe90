"""ER-NeRF torso learning check on a synthetic speaker (CPU, bounded budget).

1. Synthesise a speaker (default 16 s at 96², seed 1) unless --speaker is given.
2. Train the head (configs/ernerf_head.yaml + CPU preset, --head-steps) unless --head is given, then the torso
   (configs/ernerf_torso.yaml + CPU preset, --torso-steps), both through `talkzoo fit`.
3. On the held-out val frames: full-frame PSNR / SSIM, torso-region PSNR and the neck-band error (MAE, PSNR) of
   head + torso vs the head-only model composited over the static background (ERNeRFTorso.frame_metrics).
4. Generate full-portrait videos from the held-out (val) audio with both motion sources (the smoothed training
   path; MODA, trained here for --moda-steps unless --moda is given) and report the frame-to-frame stability of the
   torso region: mean |frame_t − frame_{t−1}| over the pixels labelled neck/torso in at least half of the training
   frames, next to the same number on the ground-truth val frames.

    .venv/bin/python scripts/ernerf_torso_learning.py --out outputs/ernerf_torso_learning --head-steps 1500
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

ROOT = Path(__file__).resolve().parents[1]


def fit(recipe: str, preset: str, root: Path, steps: int, extra: list[str]) -> Path:
    """`talkzoo fit` recipe + CPU preset into root (resumes / reuses a finished run) → last.ckpt."""
    from talkzoo.pipelines.train import run_lightning_cli

    last = root / "checkpoints" / "last.ckpt"
    if last.is_file() and torch.load(last, map_location="cpu", weights_only=True)["global_step"] >= steps:
        return last
    args = ["fit", "--config", str(ROOT / "configs" / recipe), "--config", str(ROOT / "configs" / "presets" / preset),
            "--trainer.default_root_dir", str(root), "--trainer.max_steps", str(steps),
            "--trainer.enable_progress_bar", "false", *extra]  # fmt: skip
    if last.is_file():
        args += ["--ckpt_path", str(last)]
    run_lightning_cli(args)
    return last


def evaluate(torso_ckpt: Path, head_ckpt: Path, speaker: Path, size: int) -> dict[str, float]:
    """Mean val metrics of head + torso and of the head-only baseline over all val frames."""
    from talkzoo.datamodules.frames import FrameDataModule
    from talkzoo.lightning_modules.ernerf_torso import ERNeRFTorso
    from talkzoo.lightning_modules.run_loading import load_run_module

    module = load_run_module(torso_ckpt, ERNeRFTorso, {"head_checkpoint": str(head_ckpt)})
    data = FrameDataModule(str(speaker), size=size)
    data.setup("fit")
    sums: dict[str, float] = {}
    count = 0
    for batch in data.val_dataloader():
        for key, value in module.frame_metrics(batch, module.render_frame(batch)).items():
            sums[key] = sums.get(key, 0.0) + float(value)
        count += 1
    return {key.removeprefix("val/"): value / count for key, value in sums.items()} | {"val_frames": count}


def torso_region(speaker: Any, size: int) -> np.ndarray:
    """bool [H, W]: pixels labelled neck / torso in at least half of the training frames (resized to size)."""
    from talkzoo.datamodules.resize import resize_labels, target_size

    height, width = target_size(size, speaker.meta.height, speaker.meta.width)
    train = speaker.split_indices("train")
    votes = np.zeros((height, width))
    for i in train:
        labels = resize_labels(speaker.parsing(int(i)), height, width)
        votes += (labels == 2) | (labels == 3)
    return votes >= len(train) / 2


def stability(frames: list[np.ndarray], mask: np.ndarray) -> float:
    """Mean |frame_t − frame_{t−1}| (0–255 scale) over the mask and all consecutive pairs."""
    stack = np.stack(frames).astype(np.float32)
    return float(np.abs(np.diff(stack, axis=0)).mean(axis=-1)[:, mask].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="outputs/ernerf_torso_learning")
    parser.add_argument("--speaker", default=None, help="use this speaker folder instead of synthesising one")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--head", default=None, help="reuse this head checkpoint (a `talkzoo fit` run)")
    parser.add_argument("--head-steps", type=int, default=1500)
    parser.add_argument("--torso-steps", type=int, default=600)
    parser.add_argument("--moda", default=None, help="reuse this MODA checkpoint")
    parser.add_argument("--moda-steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    speaker_dir = Path(args.speaker) if args.speaker else out / "speaker"
    if not (speaker_dir / "speaker.json").is_file():
        from talkzoo.datamodules.synthetic import synthesize

        synthesize(out, seconds=args.seconds, size=args.size, seed=args.seed, progress=False)
    data_args = ["--data.init_args.speaker", str(speaker_dir), "--data.init_args.size", str(args.size)]
    timings: dict[str, float] = {}
    t = time.perf_counter()
    head = Path(args.head) if args.head else fit("ernerf_head.yaml", "ernerf_head_cpu.yaml", out / "runs" /
                                                 "ernerf_head", args.head_steps, data_args)  # fmt: skip
    timings["head_train_s"] = time.perf_counter() - t
    t = time.perf_counter()
    torso = fit("ernerf_torso.yaml", "ernerf_torso_cpu.yaml", out / "runs" / "ernerf_torso", args.torso_steps,
                [*data_args, "--model.init_args.head_checkpoint", str(head)])  # fmt: skip
    timings["torso_train_s"] = time.perf_counter() - t
    t = time.perf_counter()
    results: dict[str, Any] = {"metrics": evaluate(torso, head, speaker_dir, args.size)}
    timings["eval_s"] = time.perf_counter() - t

    # held-out audio: the val split's audio (never trained on)
    import soundfile as sf

    from talkzoo.datamodules.media import iter_frames
    from talkzoo.datamodules.resize import resize_image
    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.pipelines.generate import generate

    speaker = Speaker(speaker_dir)
    val = speaker.split_indices("val")
    spf = 16000 / speaker.meta.fps
    wave = speaker.audio()[int(round(val[0] * spf)) : int(round((val[-1] + 1) * spf))]
    clip = out / "heldout.wav"
    sf.write(clip, wave, 16000)
    moda = Path(args.moda) if args.moda else None
    if moda is None and args.moda_steps > 0:
        t = time.perf_counter()
        moda = fit("moda.yaml", "moda_cpu.yaml", out / "runs" / "moda", args.moda_steps,
                   ["--data.init_args.speakers", json.dumps([str(speaker_dir)])])  # fmt: skip
        timings["moda_train_s"] = time.perf_counter() - t
    mask = torso_region(speaker, args.size)
    height, width = mask.shape
    gt = [resize_image(speaker.frame(int(i)), height, width) for i in val]
    results["torso_stability_gt"] = stability(gt, mask)
    for source in ("training", "moda") if moda is not None else ("training",):
        t = time.perf_counter()
        # the ER-NeRF Avatar reads RUNS/ernerf_head, RUNS/ernerf_torso (and RUNS/moda for MODA motion)
        video = generate("ernerf", speaker_dir, clip, out / f"heldout_{source}.mp4", run_dir=out / "runs",
                         device="cpu", progress=False, motion=source)  # fmt: skip
        timings[f"generate_{source}_s"] = time.perf_counter() - t
        results[f"torso_stability_{source}"] = stability(list(iter_frames(video)), mask)
    results.update(
        timings={k: round(v, 1) for k, v in timings.items()}, size=args.size, seconds=args.seconds,
        head_steps=args.head_steps if not args.head else "reused", torso_steps=args.torso_steps,
        torso_region_pixels=int(mask.sum()), heldout_frames=len(val), threads=args.threads,
    )  # fmt: skip
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))


if __name__ == "__main__":
    main()

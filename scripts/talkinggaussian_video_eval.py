"""TalkingGaussian end to end on a synthetic speaker: train the registered stages through `talkzoo fit` (CPU presets,
optionally fewer steps), generate the held-out (val) audio with `talkzoo generate`, score it with `talkzoo evaluate`
(PSNR/SSIM/lip LMD, mouth-opening ρ against the ground truth, audio-visual sync offset; docs/evaluation.md).
`--scale` multiplies every schedule length of the CPU presets (as scripts/talkinggaussian_learning.py).

    .venv/bin/python scripts/talkinggaussian_video_eval.py --out outputs/tg_video --size 96 --seconds 20
Prints one JSON line (also OUT/results.json). Re-running reuses the speaker and any finished stage.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from talkinggaussian_learning import STEP_FIELDS, evaluate, stage_config  # noqa: E402


def scaled_overrides(recipe: str, scale: float) -> list[str]:
    """`talkzoo fit` options: the CPU preset's schedule (every step-valued field and max_steps) × scale."""
    model, steps = stage_config(recipe.removeprefix("talkinggaussian_"), scale)
    args = [f"--model.init_args.{k}={model['init_args'][k]}" for k in STEP_FIELDS if k in model["init_args"]
            and model["init_args"][k] is not None]  # fmt: skip
    return [*args, f"--trainer.max_steps={steps}", f"--trainer.val_check_interval={steps}"]


def frames_check(checkpoint: Path, speaker: Path, size: int) -> dict[str, float | int]:
    """The fused run rendered at the held-out frames' own poses, audio and blinks: head-region PSNR against the mean
    training frame, full-frame PSNR, the mouth proxy's correlation with the true lip gap (talkinggaussian_learning)."""
    from talkzoo.datamodules.talkinggaussian import TalkingGaussianDataModule
    from talkzoo.lightning_modules.run_loading import load_run_module
    from talkzoo.lightning_modules.talkinggaussian_fuse import TalkingGaussianFuse

    runs = checkpoint.parents[2]
    overrides = {f"{part}_checkpoint": str(runs / f"tg_{part}" / "checkpoints" / "last.ckpt") for part in
                 ("face", "mouth")}  # fmt: skip
    fuse = load_run_module(checkpoint, TalkingGaussianFuse, overrides)
    datamodule = TalkingGaussianDataModule(str(speaker), size=size, num_workers=0)
    datamodule.setup("fit")
    results = evaluate(fuse, datamodule)
    results.update(gaussians_face=fuse.face.gaussians.num_points, gaussians_mouth=fuse.mouth.gaussians.num_points)
    return results


def main() -> None:
    from talkzoo.cli import main as talkzoo
    from talkzoo.methods import get_method
    from talkzoo.pipelines.demo_media import write_heldout_audio

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="outputs/tg_video")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every schedule length of the presets")
    parser.add_argument("--motion", default="training", help="the Avatar's motion source (training | moda | auto)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    speaker = out / "speaker"
    if not (speaker / "speaker.json").is_file():
        assert talkzoo(["synth", str(out), "--seconds", str(args.seconds), "--size", str(args.size),
                        "--seed", str(args.seed)]) == 0  # fmt: skip
    runs = out / "runs"
    method = get_method("talkinggaussian")
    times: dict[str, float] = {}
    for stage in method.stages:
        if stage.checkpoint(runs).is_file():
            continue
        cli = ["fit", "--config", stage.recipe, "--config", str(stage.cpu_preset),
               "--trainer.default_root_dir", str(stage.run_dir(runs)), "--trainer.enable_progress_bar", "false",
               *stage.fit_overrides(speaker, runs, args.size)]  # fmt: skip
        if args.scale != 1.0:
            cli += scaled_overrides(stage.recipe, args.scale)
        start = time.perf_counter()
        assert talkzoo(cli) == 0, stage.name
        times[stage.name] = round(time.perf_counter() - start, 1)
    held_out = frames_check(runs / "talkinggaussian_fuse" / "checkpoints" / "last.ckpt", speaker, args.size)
    audio, frames = write_heldout_audio(speaker, out / "heldout.wav")
    video = out / "talkinggaussian.mp4"
    start = time.perf_counter()
    assert talkzoo(["generate", "--method", "talkinggaussian", "--speaker", str(speaker), "--audio", str(audio),
                    "--out", str(video), "--run-dir", str(runs), "--device", "cpu", "--quiet",
                    "--option", f"motion={args.motion}"]) == 0  # fmt: skip
    generate_s = time.perf_counter() - start
    metrics = out / "metrics.json"
    assert talkzoo(["evaluate", str(video), str(speaker), "--split", "val", "--out", str(metrics),
                    "--no-progress", "--threads", str(args.threads)]) == 0  # fmt: skip
    results = {"size": args.size, "seconds": args.seconds, "seed": args.seed, "scale": args.scale,
               "val_frames": len(frames),
               "train_s": times, "held_out_frames": held_out, "generate_s": round(generate_s, 1), "motion": args.motion,
               "evaluate": json.loads(metrics.read_text())}  # fmt: skip
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))


if __name__ == "__main__":
    main()

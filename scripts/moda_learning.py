"""MODA learning check: train dual attention and the LSTM baseline on a synthetic speaker's train split, score the
val split (audio the models never saw), print and write the comparison table.

    python scripts/moda_learning.py                         # synthesises outputs/moda_learning/synth (60 s, 96²)
    python scripts/moda_learning.py --speaker S --steps 600 --out runs/moda_learning/results.json
    python scripts/moda_learning.py --fast                  # the test suite's budget (small widths, fewer steps)

Bars (issue 4): dual attention beats the mean-motion baseline on val LMD by ≥ 40 %, predicted mouth opening
correlates with the truth at ≥ 0.8, dual attention has non-zero eye/head diversity, the LSTM baseline has none.
Exit code 0 when every bar holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BODIES = ("dual", "lstm")
LMD_GAIN_BAR = 0.40
CORR_BAR = 0.80
DIVERSITY_FLOOR = 1e-3  # std across samples in normalised units: clearly non-zero (float noise ~1e-7)


def build(body: str, args: argparse.Namespace, speaker: str) -> tuple[Any, Any]:
    """(MODA module, MotionDataModule) at the script's widths; `body` is "dual" or "lstm"."""
    from talkzoo.datamodules.sequence import MotionDataModule
    from talkzoo.lightning_modules.moda import MODA
    from talkzoo.zoo.moda import DualAttention, MelConvEncoder, RecurrentBody

    h = args.hidden
    encoder = MelConvEncoder(80, h, layers=args.encoder_layers, kernel=3)
    if body == "dual":
        net = DualAttention(
            h, 4, args.layers, 2 * h, 0.1, period=25, motion_dim=args.motion_dim,
            aligned_latent=args.aligned_latent, prior_boost=args.prior_boost,
        )  # fmt: skip
    else:
        net = RecurrentBody(h, layers=args.layers, chunks=4)
    model = MODA(
        encoder,
        net,
        hidden=h,
        lips_hidden=4 * h,
        tail_hidden=2 * h,
        lr=args.lr,
        kl_weight=args.kl_weight,
        warmup_steps=args.steps // 20,
        diversity_samples=4,
        part_weights={"eyes": args.eye_weight},
        seed=args.seed,
    )
    data = MotionDataModule(
        [speaker], window=args.window, stride=args.stride, jitter=args.stride, batch_size=args.batch, seed=args.seed
    )
    return model, data


def train_and_score(body: str, args: argparse.Namespace, speaker: str) -> dict[str, float]:
    """Fit `body` for args.steps on the train split, then validate once; the logged val metrics + timing."""
    import lightning as L

    L.seed_everything(args.seed, verbose=False)
    model, data = build(body, args, speaker)
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=args.steps,
        max_epochs=-1,
        check_val_every_n_epoch=10_000,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=1.0,
        default_root_dir=str(Path(args.work) / body),
    )
    started = time.perf_counter()
    trainer.fit(model, datamodule=data)
    fit_s = time.perf_counter() - started
    metrics = trainer.validate(model, datamodule=data, verbose=False)[0]
    out = {k.removeprefix("val/"): float(v) for k, v in metrics.items()}
    out["fit_seconds"] = fit_s
    out["parameters"] = float(sum(p.numel() for p in model.parameters()))
    out["lmd_gain"] = 1.0 - out["lmd"] / out["lmd_mean_baseline"]
    return out


def check(results: dict[str, dict[str, float]]) -> list[str]:
    """The issue's bars; returns the failures (empty: all hold)."""
    dual, lstm = results["dual"], results.get("lstm")
    failures = []
    if dual["lmd_gain"] < LMD_GAIN_BAR:
        failures.append(f"dual LMD gain over the mean-motion baseline {dual['lmd_gain']:.3f} < {LMD_GAIN_BAR}")
    if dual["mouth_corr"] < CORR_BAR:
        failures.append(f"dual mouth-opening correlation {dual['mouth_corr']:.3f} < {CORR_BAR}")
    if min(dual["div_eyes"], dual["div_head"]) <= DIVERSITY_FLOOR:
        failures.append(f"dual eye/head diversity {dual['div_eyes']:.2e}/{dual['div_head']:.2e} not > 0")
    if lstm is not None and max(lstm["div_eyes"], lstm["div_head"]) > 1e-6:
        failures.append(f"LSTM diversity {lstm['div_eyes']:.2e}/{lstm['div_head']:.2e} should be 0")
    return failures


def table(results: dict[str, dict[str, float]]) -> str:
    """Markdown table: LMD, LMD-v, MA, mouth corr, diversity per body, plus the mean-motion baseline."""
    rows = [
        "| body | val LMD (px) ↓ | LMD-v (px) ↓ | MA (IoU) ↑ | mouth corr ↑ | div eyes | div head | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    first = next(iter(results.values()))
    rows.append(f"| mean motion | {first['lmd_mean_baseline']:.3f} | – | – | – | 0 | 0 | – |")
    for name, r in results.items():
        label = {"dual": "dual attention", "lstm": "GRU+LSTM baseline"}[name]
        rows.append(
            f"| {label} | {r['lmd']:.3f} | {r['lmd_v']:.3f} | {r['ma']:.3f} | {r['mouth_corr']:.3f} | "
            f"{r['div_eyes']:.4f} | {r['div_head']:.4f} | {r['fit_seconds']:.0f} |"
        )
    return "\n".join(rows)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--speaker", help="speaker folder (default: synthesise one under --work)")
    p.add_argument("--seconds", type=float, default=60.0, help="synthetic speaker length when synthesising")
    p.add_argument("--size", type=int, default=96, help="synthetic speaker resolution when synthesising")
    p.add_argument("--work", default="outputs/moda_learning", help="scratch folder")
    p.add_argument("--bodies", default="dual,lstm")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--encoder-layers", type=int, default=3)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--stride", type=int, default=10)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--kl-weight", type=float, default=1e-3)
    p.add_argument("--motion-dim", type=int, default=241, help="ProbAttn posterior input (0: MODA's prior-only VAE)")
    p.add_argument(
        "--aligned-latent", action=argparse.BooleanOptionalAction, default=True,
        help="ProbAttn decoder gets z frame by frame too",
    )  # fmt: skip
    p.add_argument("--prior-boost", type=float, default=1000.0, help="KL balancing: prior gradient multiplier")
    p.add_argument("--eye-weight", type=float, default=20.0, help="loss weight of the eyes part")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fast", action="store_true", help="test-suite budget: 300 steps, hidden 32, window 50")
    p.add_argument("--out", help="write the results JSON here")
    args = p.parse_args(argv)
    if args.fast:
        args.steps, args.hidden, args.window, args.layers = min(args.steps, 300), 32, 50, 2
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    speaker = args.speaker
    if speaker is None:
        from talkzoo.datamodules.synthetic import synthesize

        out = Path(args.work) / "synth"
        if not (out / "speaker" / "speaker.json").is_file():
            synthesize(out, seconds=args.seconds, size=args.size, seed=args.seed, progress=False)
        speaker = str(out / "speaker")
    results = {body: train_and_score(body, args, speaker) for body in args.bodies.split(",")}
    print(table(results))
    failures = check(results) if "dual" in results else []
    for failure in failures:
        print(f"FAIL: {failure}")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        payload = {"speaker": speaker, "args": vars(args), "results": results, "failures": failures}
        Path(args.out).write_text(json.dumps(payload, indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

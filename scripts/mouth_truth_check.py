"""How far the demo's mouth-opening ρ can be trusted: every measured series against the synthetic speaker's exact one.

    python scripts/mouth_truth_check.py DEMO_OUT

DEMO_OUT is a `talkzoo demo --out` folder: its synthetic speaker (DEMO_OUT/synth/speaker) holds the exact landmarks
the frames were rendered from, and its evaluation cache (DEMO_OUT/evaluation/*.npz) the mouth opening MediaPipe
measured, frame by frame, on the ground-truth held-out frames and on each generated video. The report's ρ compares
two measurements; this prints, per video, ρ of its measured opening with the exact opening too, and the ceiling: ρ
of the ground-truth frames' measured opening with the exact one (docs/evaluation.md, "How far ρ can be trusted").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from talkzoo.datamodules.mouth_masks import mouth_opening
from talkzoo.zoo.metrics.landmarks import pearson


def exact_opening(demo: Path, first: int, count: int) -> np.ndarray:
    """The synthetic speaker's exact inner-lip gap (its own pixels) of frames first … first + count − 1 → [count]."""
    landmarks = np.load(demo / "synth" / "speaker" / "landmarks.npy", mmap_mode="r")
    return mouth_opening(np.asarray(landmarks[first : first + count]))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson ρ of two equally long series (`talkzoo.zoo.metrics.landmarks.pearson`: 0 when either is constant)."""
    return pearson(torch.from_numpy(np.asarray(a)), torch.from_numpy(np.asarray(b)))


def check(demo: Path) -> list[tuple[str, float, float]]:
    """[(series, ρ with the exact opening, ρ with the measured ground truth)], ground truth first."""
    metrics = json.loads((demo / "metrics.json").read_text())
    held = metrics["held_out"]
    rows: list[tuple[str, float, float]] = []
    exact = None  # every cached evaluation holds the same held-out frames' ground truth
    for cached in sorted((demo / "evaluation").glob("*.npz")):
        with np.load(cached) as saved:
            pred, truth = saved["mouth_pred"], saved["mouth_gt"]
        if len(truth) == 0:
            continue
        if exact is None:
            exact = exact_opening(demo, held["first_frame"], len(truth))
            rows.append(("ground-truth frames (measured)", correlation(truth, exact), 1.0))
        if len(pred):
            rows.append((cached.stem, correlation(pred, exact), correlation(pred, truth)))
    if exact is None:
        raise SystemExit(f"{demo / 'evaluation'}: no cached evaluation with mouth series; run `talkzoo demo` first")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("demo", type=Path, help="a `talkzoo demo --out` folder")
    args = parser.parse_args(argv)
    if not (args.demo / "synth" / "speaker" / "landmarks.npy").is_file():
        print(f"{args.demo}: no synth/speaker/landmarks.npy; this check needs a `talkzoo demo` folder", file=sys.stderr)
        return 2
    print("| series | ρ with the exact opening | ρ with the measured ground truth (the report's ρ) |")
    print("|---|---|---|")
    for name, with_exact, with_measured in check(args.demo):
        print(f"| {name} | {with_exact:.2f} | {with_measured:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

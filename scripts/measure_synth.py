"""Measure the synthetic speaker against MediaPipe: does a real tracker see what the ground truth says?

Runs `synthesize` (512², 20 s, the easy style by default), then MediaPipe FaceMesh in tracking mode on the raw.mp4
frames and reports: detection rate, landmark error vs landmarks.npy (mean and median, pixels and % of the
inter-ocular distance; all points and the 40 lip points), the correlation of the detected lip gap (13–14) with the
ground-truth gap, the head's yaw range and the generation speed. With --preprocess N it also runs
`talkzoo preprocess` on the raw.mp4 at N² and compares the result with the ground truth
(talkzoo.datamodules.preprocess.evaluate). Prints a table and writes JSON.

    .venv/bin/python scripts/measure_synth.py [--style easy|hard] [--seconds 20] [--size 512] [--seed 0]
        [--preprocess 96] [--out runs/measure_synth]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from talkzoo.datamodules.media import probe_video
from talkzoo.datamodules.speaker import Speaker
from talkzoo.datamodules.synthetic import synthesize
from talkzoo.datamodules.synthetic.tracking import measure, track


def _median_error(speaker_dir: Path, video: Path) -> float:
    """Median over found frames and all 478 points of |MediaPipe − truth| (pixels)."""
    truth = np.asarray(Speaker(speaker_dir).landmarks, dtype=np.float64)[..., :2]
    detected, found = track(video)
    n = min(len(truth), len(detected))
    return float(np.median(np.linalg.norm(detected[:n] - truth[:n], axis=2)[found[:n]]))


def _preprocess(video: Path, truth: Path, target: Path, size: int) -> dict:
    from talkzoo.datamodules.preprocess import PreprocessConfig, preprocess
    from talkzoo.datamodules.preprocess.evaluate import compare_to_truth

    shutil.rmtree(target, ignore_errors=True)
    started = time.perf_counter()
    preprocess(video, target, PreprocessConfig(size=size, workers=2), progress=False, log=False)
    report = compare_to_truth(target, truth)
    report["preprocess_seconds"] = time.perf_counter() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=("easy", "hard"), default="easy")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preprocess", type=int, default=0, help="also preprocess raw.mp4 at this size (0: no)")
    parser.add_argument("--out", type=Path, default=Path("runs/measure_synth"))
    args = parser.parse_args()

    started = time.perf_counter()
    synthesize(args.out, seconds=args.seconds, size=args.size, seed=args.seed, progress=True, style=args.style)
    elapsed = time.perf_counter() - started
    info = probe_video(args.out / "raw.mp4")
    results = measure(args.out / "speaker", args.out / "raw.mp4")
    results["error_px_median"] = _median_error(args.out / "speaker", args.out / "raw.mp4")
    rot = np.asarray(Speaker(args.out / "speaker").pose, dtype=np.float64)[:, :3, :3]
    yaw = np.degrees(np.arctan2(rot[:, 0, 2], rot[:, 2, 2]))
    results.update(
        style=args.style,
        size=args.size,
        seconds=args.seconds,
        seed=args.seed,
        yaw_range_deg=[float(yaw.min()), float(yaw.max())],
        synth_seconds=elapsed,
        synth_frames_per_second=info.num_frames / elapsed,
        video=info.to_json(),
    )
    rows = [
        ("frames", f"{results['frames']}"),
        ("detection rate", f"{100 * results['detection_rate']:.1f} %"),
        ("landmark error, all 478", f"{results['error_px_all']:.2f} px  ({results['error_iod_pct_all']:.2f} % IOD)"),
        ("  median", f"{results['error_px_median']:.2f} px"),
        ("landmark error, 40 lips", f"{results['error_px_lips']:.2f} px  ({results['error_iod_pct_lips']:.2f} % IOD)"),
        ("lip gap correlation", f"{results['lip_gap_corr']:.3f}"),
        ("yaw range", f"{yaw.min():.1f}° .. {yaw.max():.1f}°"),
        ("generation speed", f"{results['synth_frames_per_second']:.1f} frames/s ({elapsed:.1f} s)"),
    ]
    if args.preprocess:
        pre = _preprocess(args.out / "raw.mp4", args.out / "speaker", args.out / "preprocessed", args.preprocess)
        results["preprocess"] = pre
        rows += [(f"preprocess {args.preprocess}²: {key}", f"{value:.3f}") for key, value in pre.items()
                 if isinstance(value, float)]  # fmt: skip
    width = max(len(k) for k, _ in rows)
    print(f"synthetic speaker ({args.style}) {args.size}², {args.seconds:g} s, seed {args.seed}")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
    path = args.out / "measure_synth.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Measure the synthetic speaker against MediaPipe: does a real tracker see what the ground truth says?

Runs `synthesize` (512², 20 s by default), then MediaPipe FaceMesh in tracking mode on the raw.mp4 frames and
reports: detection rate, mean landmark error vs landmarks.npy (pixels and % of the inter-ocular distance; all
points and the 40 lip points), the correlation of the detected lip gap (13–14) with the ground-truth gap, and the
generation speed. Prints a table and writes JSON.

    .venv/bin/python scripts/measure_synth.py [--seconds 20] [--size 512] [--seed 0] [--out runs/measure_synth]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from talkzoo.datamodules.media import probe_video
from talkzoo.datamodules.synthetic import synthesize
from talkzoo.datamodules.synthetic.tracking import measure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/measure_synth"))
    args = parser.parse_args()

    started = time.perf_counter()
    synthesize(args.out, seconds=args.seconds, size=args.size, seed=args.seed, progress=True)
    elapsed = time.perf_counter() - started
    info = probe_video(args.out / "raw.mp4")
    results = measure(args.out / "speaker", args.out / "raw.mp4")
    results.update(
        size=args.size,
        seconds=args.seconds,
        seed=args.seed,
        synth_seconds=elapsed,
        synth_frames_per_second=info.num_frames / elapsed,
        video=info.to_json(),
    )
    rows = [
        ("frames", f"{results['frames']}"),
        ("detection rate", f"{100 * results['detection_rate']:.1f} %"),
        ("landmark error, all 478", f"{results['error_px_all']:.2f} px  ({results['error_iod_pct_all']:.2f} % IOD)"),
        ("landmark error, 40 lips", f"{results['error_px_lips']:.2f} px  ({results['error_iod_pct_lips']:.2f} % IOD)"),
        ("lip gap correlation", f"{results['lip_gap_corr']:.3f}"),
        ("generation speed", f"{results['synth_frames_per_second']:.1f} frames/s ({elapsed:.1f} s)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"synthetic speaker {args.size}², {args.seconds:g} s, seed {args.seed}")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
    path = args.out / "measure_synth.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Accuracy and speed of `talkzoo preprocess` on the synthetic speaker (the numbers of issue 3).

    .venv/bin/python scripts/measure_preprocess.py [--size 512] [--seconds 20] [--seed 0] [--out /tmp/measure]
        [--workers 2] [--json results.json]

Synthesises a speaker (raw.mp4 + ground truth), preprocesses raw.mp4 from scratch, times it (end-to-end frames/s,
mel features) and compares the result with the ground truth (talkzoo.datamodules.preprocess.evaluate).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="/tmp/talkzoo_measure_preprocess")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()

    from talkzoo.datamodules.preprocess import PreprocessConfig, preprocess
    from talkzoo.datamodules.preprocess.evaluate import compare_to_truth
    from talkzoo.datamodules.synthetic import synthesize
    from talkzoo.datamodules.validate import validate_speaker

    out = Path(args.out)
    synth = out / f"synth_{args.size}_{args.seconds:g}_{args.seed}"
    if not (synth / "speaker" / "speaker.json").is_file():
        synthesize(synth, seconds=args.seconds, size=args.size, seed=args.seed, progress=False)
    target = out / "preprocessed"
    shutil.rmtree(target, ignore_errors=True)
    start = time.perf_counter()
    config = PreprocessConfig(size=args.size, workers=args.workers)
    result = preprocess(synth / "raw.mp4", target, config, progress=False, log=False)
    seconds = time.perf_counter() - start
    frames = validate_speaker(target)
    report = {
        "size": args.size,
        "seconds_of_video": args.seconds,
        "frames": int(json.loads((target / "speaker.json").read_text())["num_frames"]),
        "wall_s": seconds,
        "step_s": result.seconds,
        "load_avg_1min": os.getloadavg()[0],
        "valid": frames.ok,
        **compare_to_truth(target, synth / "speaker"),
    }
    report["fps_end_to_end"] = report["frames"] / seconds
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)


if __name__ == "__main__":
    main()

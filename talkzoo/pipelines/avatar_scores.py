"""Scoring `talkzoo avatar`'s held-out videos: each video's `evaluate_video` result, cached next to the report, and
the uncached ones scored side by side.

Scoring a 96² video is mostly MediaPipe FaceMesh, torch (SSIM) and numpy (NIQE), which release the GIL, so the videos
are scored in threads, one per torch thread the pipeline was given, while one of them measures the ground truth
the others wait for only at their end (`evaluate_video(truth=callable)`). On the demo (4 videos + the ground truth,
2 cores): 24 s one after the other, 18 s side by side (the per-frame Python of NIQE and SSIM holds the GIL).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkzoo.pipelines.evaluate import TRACK_SIDE, Truth, evaluate_video, measure_truth, to_json

# a changed evaluation invalidates the cache
CACHE_KEY = f"evaluate_video v3 (series, tracker at {TRACK_SIDE} px with mirror images, opening smoothed)"


def newer(path: Path, sources: Sequence[Path]) -> bool:
    """Whether `path` exists and was written after every existing source (so it is still valid)."""
    if not path.is_file():
        return False
    mtime = path.stat().st_mtime
    return all(mtime > s.stat().st_mtime for s in sources if s.is_file())


def load_cached(video: Path, stamp: Path, cache: Path) -> dict[str, Any] | None:
    """The cached result of scoring `video` (cache.json + cache.npz) when newer than the video and the speaker's
    stamp file and made by this evaluation; else None."""
    json_path, npz_path = cache.with_suffix(".json"), cache.with_suffix(".npz")
    if not (newer(json_path, [video, stamp]) and npz_path.is_file()):
        return None
    result = json.loads(json_path.read_text())
    if result.pop("cache_key", None) != CACHE_KEY:
        return None
    with np.load(npz_path) as saved:
        result["series"] = {k: (saved[k] if saved[k].size else None) for k in saved.files}
    return result


def store(result: dict[str, Any], cache: Path) -> None:
    """Write `result` (with its "series" of numpy arrays) as cache.json + cache.npz."""
    series = result.get("series") or {}
    cache.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: (np.asarray(v) if v is not None else np.zeros(0)) for k, v in series.items()}
    np.savez(cache.with_suffix(".npz"), **arrays)
    plain = {k: v for k, v in result.items() if k != "series"}
    cache.with_suffix(".json").write_text(json.dumps(to_json({**plain, "cache_key": CACHE_KEY}), indent=1))


class SharedTruth:
    """The val split's ground truth, measured once by whichever thread asks first (the others wait for it)."""

    def __init__(self, speaker: Path) -> None:
        self.speaker = speaker
        self._lock = threading.Lock()
        self._truth: Truth | None = None

    def __call__(self) -> Truth:
        with self._lock:
            if self._truth is None:
                self._truth = measure_truth(self.speaker, "val")
            return self._truth


def score_videos(
    videos: Mapping[str, tuple[Path, Path]], speaker: Path, stamp: Path, workers: int | None = None
) -> dict[str, dict[str, Any]]:
    """{name: (video, cache path without suffix)} → {name: `evaluate_video(split="val", series=True)` result}.

    Cached results are loaded; the rest are scored in `workers` threads (None: torch's thread count), torch held to
    one thread meanwhile (SSIM's convolutions sum in another order with more threads: 1e-8 apart); the ground truth
    is measured once, in the first thread free, and only if something is scored. Results come back in `videos`'
    order and are the same for any `workers`.
    """
    results: dict[str, dict[str, Any] | None] = {
        name: load_cached(video, stamp, cache) for name, (video, cache) in videos.items()
    }
    missing = [name for name, result in results.items() if result is None]
    if missing:
        truth = SharedTruth(speaker)
        count = max(1, min(workers or torch.get_num_threads(), len(missing) + 1))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one each: no oversubscription, and scores that do not depend on `workers`
        try:
            with ThreadPoolExecutor(count) as pool:
                if count > 1:
                    pool.submit(truth)  # measured while the first videos are scored; they wait for it at their end
                jobs = {
                    name: pool.submit(
                        evaluate_video, videos[name][0], speaker, split="val", progress=False, truth=truth, series=True
                    )  # fmt: skip
                    for name in missing
                }
                for name, job in jobs.items():
                    results[name] = job.result()
                    store(results[name], videos[name][1])
        finally:
            torch.set_num_threads(threads)
    return {name: result for name, result in results.items() if result is not None}

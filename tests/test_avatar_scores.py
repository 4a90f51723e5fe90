"""`talkzoo avatar`'s scoring (talkzoo/pipelines/avatar_scores.py): videos scored side by side give the numbers
they give one at a time, the ground truth is measured once, and cached scores are reused without measuring it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkzoo.datamodules.media import write_video
from talkzoo.datamodules.speaker import Speaker
from talkzoo.pipelines import avatar_scores
from talkzoo.pipelines.avatar_scores import score_videos
from talkzoo.pipelines.evaluate import to_json


@pytest.fixture(scope="module")
def speaker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from talkzoo.datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("scores128")
    synthesize(out, seconds=6.0, size=128, seed=0, progress=False)  # val split: the last 1/11, 14 frames
    return out / "speaker"


def _videos(speaker: Path, folder: Path) -> dict[str, Path]:
    """The val frames as they are, two frames late, and frozen on the first: three different scores."""
    spk = Speaker(speaker)
    indices = spk.split_indices("val")
    frames = [spk.frame(int(i)) for i in indices]
    start = int(round(indices[0] / spk.meta.fps * spk.meta.sample_rate))
    wave = spk.audio()[start : start + int(round(len(frames) / spk.meta.fps * spk.meta.sample_rate))]
    clips = {"truth": frames, "late": frames[:1] * 2 + frames[:-2], "still": frames[:1] * len(frames)}
    return {
        name: write_video(folder / f"{name}.mp4", clip, spk.meta.fps, wave, 16000, lossless=True)
        for name, clip in clips.items()
    }


def _plain(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "series"}


def test_side_by_side_scores_equal_one_at_a_time_and_the_cache_needs_no_truth(
    speaker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = _videos(speaker, tmp_path)
    stamp = speaker / "speaker.json"
    measured: list[str] = []
    measure = avatar_scores.measure_truth

    def counting(*args: object, **kwargs: object) -> object:
        measured.append("truth")
        return measure(*args, **kwargs)

    monkeypatch.setattr(avatar_scores, "measure_truth", counting)
    serial = score_videos({n: (v, tmp_path / "one" / n) for n, v in videos.items()}, speaker, stamp, workers=1)
    parallel = score_videos({n: (v, tmp_path / "two" / n) for n, v in videos.items()}, speaker, stamp, workers=2)
    assert measured == ["truth", "truth"]  # once per call, however many videos
    assert list(parallel) == list(videos)
    for name in videos:
        assert _plain(parallel[name]) == _plain(serial[name])
        for key, value in serial[name]["series"].items():
            assert value is None or np.array_equal(parallel[name]["series"][key], value, equal_nan=True)
    assert parallel["truth"]["lmd"] == 0.0 < parallel["late"]["lmd"]  # three different videos, three scores
    assert parallel["truth"]["psnr"] == float("inf") != parallel["late"]["psnr"]

    cached = score_videos({n: (v, tmp_path / "two" / n) for n, v in videos.items()}, speaker, stamp, workers=2)
    assert measured == ["truth", "truth"]  # every score cached: no ground-truth pass
    assert {n: _plain(r) for n, r in cached.items()} == {n: to_json(_plain(r)) for n, r in parallel.items()}

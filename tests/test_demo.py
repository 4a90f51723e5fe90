"""`talkzoo demo` end to end at a tiny budget: synthesise → preprocess → train both methods → generate from the
held-out audio → side-by-side video, pictures and metrics; a second run reuses everything."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from talkzoo.datamodules.media import probe_video
from talkzoo.datamodules.speaker import Speaker
from talkzoo.pipelines.demo import DemoSettings, run_demo

TINY = DemoSettings(
    seconds=12.0, synth_size=128, size=64, moda_steps=100, faconet_steps=40, renderer_steps=40, head_steps=60,
    torso_steps=20,
)  # fmt: skip


@pytest.mark.slow
def test_demo_runs_end_to_end_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metrics = run_demo(tmp_path, settings=TINY, pictures=tmp_path / "pictures")
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["motion"]["lmd"] == pytest.approx(metrics["motion"]["lmd"])
    # the tiny budget proves the plumbing; the learning bars live in test_moda_learning / test_portrait /
    # test_ernerf_learning / test_ernerf_torso, and the README quotes the full demo's numbers
    assert all(math.isfinite(metrics["motion"][k]) for k in ("lmd", "lmd_mean_baseline", "mouth_corr"))
    assert metrics["motion"]["div_head"] > 0  # dual attention samples

    val_frames = len(Speaker(tmp_path / "speaker").split_indices("val"))
    for name in ("moda.mp4", "ernerf.mp4", "side_by_side.mp4"):
        info = probe_video(tmp_path / name)
        assert info.has_audio, name
        assert abs(info.num_frames - val_frames) <= 1, (name, info.num_frames, val_frames)
    side = probe_video(tmp_path / "side_by_side.mp4")
    assert side.width == 3 * 128  # ground truth | MODA | ER-NeRF, 128 px each
    for picture in ("frame_grid.png", "mouth_opening.png"):
        assert (tmp_path / "pictures" / picture).stat().st_size > 1000
    for name in ("MODA", "ER-NeRF"):
        assert math.isfinite(metrics["videos"][name]["psnr"]) and metrics["videos"][name]["psnr"] > 8, name

    capsys.readouterr()
    again = run_demo(tmp_path, settings=TINY)
    out = capsys.readouterr().out
    assert out.count("reusing") >= 7 and "(step 100)" in out  # video, speaker, 5 checkpoints
    assert again["motion"]["lmd"] == pytest.approx(metrics["motion"]["lmd"])

"""`talkzoo evaluate`: ground truth scores perfectly, a 5-frame shift is found, bad input fails in one line.

The tiny 64² speaker is too small for NIQE (96² patches) and for reliable MediaPipe detection, so the checks that
need landmarks use a 128², 3 s synthetic speaker (MediaPipe finds the face in every frame; NIQE has one patch).
Its mouth leads the speech energy by exactly 1 frame (datamodules/synthetic/motion.py), which the default
`sync_lead_frames=1` counts as in sync: the ground truth must score sync offset 0.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkzoo.cli import main as cli_main
from talkzoo.datamodules.media import write_video
from talkzoo.datamodules.speaker import Speaker
from talkzoo.pipelines.evaluate import audio_offset, evaluate_video, main
from talkzoo.zoo.errors import UserError

FAST = {"max_lag": 8, "torch_threads": 1, "progress": False}


@pytest.fixture(scope="module")
def speaker128(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from talkzoo.datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("synthetic128")
    synthesize(out, seconds=3.0, size=128, seed=0, progress=False)
    return out / "speaker"


def _render(speaker: Path, path: Path, shift: int = 0, lossless: bool = True, audio: bool = True) -> Path:
    """The speaker's frames (split "all") as a video with its audio; shift > 0 shows every frame `shift` late."""
    spk = Speaker(speaker)
    frames = [spk.frame(int(i)) for i in spk.split_indices("all")]
    if shift:
        frames = [frames[0]] * shift + frames[:-shift]
    wave = spk.audio() if audio else None
    return write_video(path, frames, spk.meta.fps, wave, spk.meta.sample_rate, lossless=lossless)


@pytest.fixture(scope="module")
def ground_truth(speaker128: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _render(speaker128, tmp_path_factory.mktemp("gt") / "gt.mp4")


def test_ground_truth_scores_perfectly(ground_truth: Path, speaker128: Path, hub_dir: Path) -> None:
    r = evaluate_video(ground_truth, speaker128, split="all", **FAST)
    assert r["frames"]["compared"] == 75 and r["resized"] is None
    assert r["psnr"] == math.inf and r["identical_frames"] == 75 and r["ssim"] == pytest.approx(1.0)
    assert r["detection"]["pred"] == 1.0 and r["lmd"] == 0.0 and r["lmd_v"] == 0.0 and r["mouth_iou"] == 1.0
    assert r["mouth_corr"] > 0.999
    assert r["sync"]["offset"] == 0 and r["sync"]["raw_lag"] == -1 and r["sync"]["confidence"] > 0.3
    assert r["audio"]["offset_frames"] == 0 and r["audio"]["match"] > 0.99
    assert r["niqe_pred"] == r["niqe_gt"] and 2 < r["niqe_pred"] < 15
    assert r["lpips"].startswith("unavailable: AlexNet weights not found")  # never faked


def test_video_shifted_against_its_audio_reports_the_shift(speaker128: Path, tmp_path: Path) -> None:
    shifted = _render(speaker128, tmp_path / "late.mp4", shift=5)
    r = evaluate_video(shifted, speaker128, split="all", **FAST)
    assert r["sync"]["offset"] == 5  # positive: the video shows each sound 5 frames after it is heard
    assert r["sync_gt"]["offset"] == 0  # the reference row: ground-truth frames with the speaker's audio
    assert r["audio"]["offset_frames"] == 0  # the audio track itself is where it belongs
    assert 15 < r["psnr"] < 40 and r["lmd"] > 0.5 and r["mouth_iou"] < 0.9


def test_lossy_ground_truth_has_finite_psnr_and_cli_writes_json(
    speaker128: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lossy = _render(speaker128, tmp_path / "lossy.mp4", lossless=False)
    out = tmp_path / "metrics.json"
    args = [str(lossy), str(speaker128), "--split", "all", "--out", str(out), "--max-frames", "40", "--no-progress"]
    assert main([*args, "--threads", "1", "--max-lag", "8"]) == 0
    data = json.loads(out.read_text())
    assert 30 < data["psnr"] < 60 and data["identical_frames"] == 0 and data["frames"]["compared"] == 40
    assert "| PSNR (dB) ↑ |" in capsys.readouterr().out


def test_resized_prediction_without_audio(speaker128: Path, tmp_path: Path) -> None:
    import cv2

    spk = Speaker(speaker128)
    frames = [cv2.resize(spk.frame(int(i)), (192, 192), interpolation=cv2.INTER_CUBIC) for i in range(40)]
    pred = write_video(tmp_path / "big.mp4", frames, spk.meta.fps, lossless=True)
    r = evaluate_video(pred, spk, split="all", **FAST)
    assert r["resized"] == "192x192 -> 128x128" and r["frames"]["compared"] == 40
    assert r["audio"]["source"] == "speaker" and r["sync"]["audio"] == "speaker split audio"
    assert 28 < r["psnr"] < math.inf and r["lmd"] < 1.5
    assert r["sync"]["offset"] == 0


def test_lpips_with_weights_is_zero_on_identical_frames(ground_truth: Path, speaker128: Path, fake_alexnet: Path):
    r = evaluate_video(ground_truth, speaker128, split="all", max_frames=4, **FAST)
    assert r["lpips"] == 0.0
    assert r["sync"].startswith("unavailable")  # 4 frames are too few for a sync search


def test_tiny_speaker_reports_what_is_unavailable(tiny_speaker: Path, tmp_path: Path) -> None:
    video = _render(tiny_speaker, tmp_path / "tiny.mp4")
    r = evaluate_video(video, tiny_speaker, split="val", **FAST)
    n = len(Speaker(tiny_speaker).split_indices("val"))
    assert r["frames"]["compared"] == n and r["psnr"] != math.inf  # val frames ≠ the video's first frames
    assert r["niqe_pred"].startswith("unavailable: frames of 64x64")
    assert isinstance(r["lmd"], float) or r["lmd"].startswith("unavailable: MediaPipe found the face")
    assert 0.0 <= r["detection"]["pred"] <= 1.0


def test_audio_offset_finds_a_known_lag() -> None:
    rng = np.random.default_rng(0)
    reference = rng.standard_normal(16000 * 3).astype(np.float32)
    start = 16000  # the split starts 1 s in; the prediction's audio starts 2 frames (1280 samples) later
    found = audio_offset(reference[start + 1280 : start + 1280 + 16000], reference, start, 16000, 25.0)
    assert found["offset_frames"] == 2.0 and found["offset_ms"] == 80.0 and found["match"] > 0.99


def test_bad_input_is_one_line(speaker128: Path, ground_truth: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        evaluate_video(tmp_path / "missing.mp4", speaker128)
    with pytest.raises(UserError, match="no speaker.json"):
        evaluate_video(ground_truth, tmp_path)
    wav = tmp_path / "sound.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16000)
    with pytest.raises(UserError, match="no video stream"):
        evaluate_video(wav, speaker128)
    one = write_video(tmp_path / "one.mp4", [np.zeros((128, 128, 3), np.uint8)], 25.0)
    with pytest.raises(UserError, match="only 1 frame"):
        evaluate_video(one, speaker128)
    with pytest.raises(UserError, match="unknown split"):
        evaluate_video(ground_truth, speaker128, split="test")
    assert cli_main(["evaluate", str(tmp_path / "missing.mp4"), str(speaker128)]) == 1


def test_odd_sizes_padded_by_the_encoder_are_cropped_not_resized() -> None:
    from talkzoo.pipelines.evaluate import _even_padding

    assert _even_padding((128, 256, 3), (127, 255, 3)) and _even_padding((128, 256), (128, 255))
    assert not _even_padding((128, 128), (128, 128)) and not _even_padding((130, 128), (128, 128))


def test_one_mouth_opening_number_and_its_curves(speaker128: Path, tmp_path: Path) -> None:
    """The plotted mouth-opening curves and `mouth_corr` are one measurement: with a face in every frame the
    correlation of the returned series is the reported number; a shared ground-truth pass changes nothing."""
    from talkzoo.pipelines.evaluate import measure_truth

    shifted = _render(speaker128, tmp_path / "late.mp4", shift=2)
    r = evaluate_video(shifted, speaker128, split="all", series=True, **FAST)
    series = r["series"]
    assert r["detection"]["pred"] == 1.0 and r["detection"]["gt"] == 1.0
    assert np.corrcoef(series["mouth_pred"], series["mouth_gt"])[0, 1] == pytest.approx(r["mouth_corr"], abs=1e-6)
    lags, corr = series["sync_lags"], series["sync_corr"]
    assert int(lags[np.argmax(corr)]) + 1 == r["sync"]["offset"] == 2  # the curve's peak is the offset (lead 1)
    truth = measure_truth(speaker128, "all")
    shared = evaluate_video(shifted, speaker128, split="all", truth=truth, **FAST)
    assert shared["mouth_corr"] == r["mouth_corr"] and shared["niqe_gt"] == r["niqe_gt"] and shared["lmd"] == r["lmd"]


def test_a_still_image_has_no_sync_score(speaker128: Path, tmp_path: Path) -> None:
    spk = Speaker(speaker128)
    still = write_video(tmp_path / "still.mp4", [spk.frame(0)] * 75, spk.meta.fps, spk.audio(), 16000)
    r = evaluate_video(still, speaker128, split="all", **FAST)
    assert r["sync"].startswith("unavailable: the mouth does not move")  # tracker jitter is not lip sync
    assert isinstance(r["sync_gt"], dict) and r["sync_gt"]["offset"] == 0
    assert abs(r["mouth_corr"]) < 0.5

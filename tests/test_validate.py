"""`talkzoo validate`: passes on the synthetic speaker, fails with one clear line on each corruption."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from talkzoo.cli import main
from talkzoo.datamodules.speaker import Speaker, SpeakerFormatError
from talkzoo.datamodules.validate import require_valid, validate_speaker


def test_synthetic_speaker_is_valid(tiny_speaker: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = validate_speaker(tiny_speaker)
    assert report.ok, report.problems
    assert main(["validate", str(tiny_speaker)]) == 0
    out = capsys.readouterr().out
    assert "frames" in out and "ok" in out
    assert report.summary["frames"] == Speaker(tiny_speaker).num_frames


def _edit_json(root: Path, **changes: object) -> None:
    path = root / "speaker.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _missing_file(root: Path) -> None:
    (root / "landmarks.npy").unlink()


def _wrong_frame_count(root: Path) -> None:
    pose = np.load(root / "pose.npy")
    np.save(root / "pose.npy", pose[:-3])


def _wrong_sample_rate(root: Path) -> None:
    wave, _ = sf.read(root / "audio.wav", dtype="float32")
    sf.write(root / "audio.wav", wave, 22050, subtype="PCM_16")


def _nan_landmarks(root: Path) -> None:
    landmarks = np.load(root / "landmarks.npy")
    landmarks[5, 10, 0] = np.nan
    np.save(root / "landmarks.npy", landmarks)


def _bad_version(root: Path) -> None:
    _edit_json(root, version=99)


def _empty(root: Path) -> None:
    _edit_json(root, num_frames=0)


def _empty_folder(root: Path) -> None:
    shutil.rmtree(root)
    root.mkdir()


def _missing_frame(root: Path) -> None:
    sorted((root / "frames").glob("*.jpg"))[7].unlink()


def _short_audio(root: Path) -> None:
    wave, rate = sf.read(root / "audio.wav", dtype="float32")
    sf.write(root / "audio.wav", wave[: len(wave) // 2], rate, subtype="PCM_16")


def _short_feature(root: Path) -> None:
    path = next((root / "features").glob("*.npy"))
    np.save(path, np.load(path)[:10])


def _bad_split(root: Path) -> None:
    _edit_json(root, val_start=0)


def _wrong_image_size(root: Path) -> None:
    import cv2

    path = root / "parsing" / "000003.png"
    cv2.imwrite(str(path), np.zeros((10, 12), dtype=np.uint8))


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing file": (_missing_file, "landmarks.npy: missing"),
    "wrong frame count": (_wrong_frame_count, "pose.npy:"),
    "wrong sample rate": (_wrong_sample_rate, "22050"),
    "NaN landmarks": (_nan_landmarks, "NaN"),
    "bad version": (_bad_version, "version 99"),
    "empty": (_empty, "empty"),
    "empty folder": (_empty_folder, "no speaker.json"),
    "missing frame": (_missing_frame, "first missing 000007.jpg"),
    "short audio": (_short_audio, "audio.wav"),
    "short feature": (_short_feature, "cover"),
    "bad split": (_bad_split, "val_start=0"),
    "wrong image size": (_wrong_image_size, "12x10"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corruption_is_reported(name: str, speaker_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corrupt, expected = CORRUPTIONS[name]
    corrupt(speaker_copy)
    report = validate_speaker(speaker_copy)
    assert not report.ok
    assert any(expected in p for p in report.problems), report.problems
    assert all("\n" not in p for p in report.problems), "each problem must be one line"

    assert main(["validate", str(speaker_copy)]) == 1
    err = capsys.readouterr().err
    assert err.count("problem:") == len(report.problems)
    with pytest.raises(SpeakerFormatError):
        require_valid(speaker_copy)


def test_frames_stream_from_disk(tiny_speaker: Path) -> None:
    speaker = Speaker(tiny_speaker)
    frame = speaker.frame(speaker.num_frames - 1)
    assert frame.shape == (speaker.meta.height, speaker.meta.width, 3) and frame.dtype == np.uint8
    assert isinstance(speaker.landmarks, np.memmap)

"""PyAV video I/O (talkzoo.datamodules.media) and the bundled assets (talkzoo.datamodules.assets)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkzoo.datamodules.assets import SPEECH_PATH, load_astronaut, load_speech
from talkzoo.datamodules.media import MediaError, iter_frames, probe_video, read_audio, write_video


def test_bundled_speech_and_photo() -> None:
    assert SPEECH_PATH.stat().st_size < 1_000_000
    wave = load_speech()
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert 150 < len(wave) / 16000 < 240 and 0.3 < np.abs(wave).max() <= 1.0
    assert abs(len(load_speech(8000)) - len(wave) / 2) <= 2
    assert load_astronaut().shape == (512, 512, 3)


def test_write_probe_read_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [np.full((33, 47, 3), 8 * i, np.uint8) for i in range(20)]  # odd sizes are padded to even
    audio = (0.3 * np.sin(2 * np.pi * 440 * np.arange(12800) / 16000) + 0.01 * rng.standard_normal(12800)).astype(
        np.float32
    )
    path = write_video(tmp_path / "clip.mp4", frames, 25.0, audio, 16000)
    info = probe_video(path)
    assert (info.video_codec, info.audio_codec, info.num_frames) == ("h264", "aac", 20)
    assert (info.width, info.height, info.fps, info.audio_rate) == (48, 34, 25.0, 16000)
    assert info.duration_s == pytest.approx(0.8, abs=0.04) and info.audio_duration_s == pytest.approx(0.8, abs=0.04)
    decoded = list(iter_frames(path))
    assert len(decoded) == 20 and decoded[10].shape == (34, 48, 3) and decoded[10].dtype == np.uint8
    assert abs(int(decoded[10][5, 5, 0]) - 80) <= 4
    wave = read_audio(path, 16000)
    assert abs(len(wave) - len(audio)) <= 1024
    assert np.corrcoef(wave[: len(audio)], audio[: len(wave)])[0, 1] > 0.9
    assert abs(len(read_audio(path, 8000)) - len(audio) / 2) <= 1024


def test_clear_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(MediaError, match="not a readable"):
        probe_video(text)
    with pytest.raises(MediaError, match="no such file"):
        list(iter_frames(tmp_path / "missing.mp4"))
    silent = write_video(tmp_path / "silent.mp4", [np.zeros((16, 16, 3), np.uint8)] * 3, 25.0)
    assert not probe_video(silent).has_audio
    with pytest.raises(MediaError, match="no audio stream"):
        read_audio(silent)
    with pytest.raises(MediaError, match="no frames"):
        write_video(tmp_path / "empty.mp4", [], 25.0)

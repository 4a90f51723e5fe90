"""The weight-free audio-visual sync score finds the true lag between mouth opening and speech energy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkzoo.datamodules.speaker import Speaker
from talkzoo.zoo.metrics.sync import frame_energy, sync_offset


def _signals(root: Path) -> tuple[np.ndarray, np.ndarray]:
    speaker = Speaker(root)
    landmarks = np.asarray(speaker.landmarks)
    mouth = landmarks[:, 14, 1] - landmarks[:, 13, 1]  # inner lower minus upper lip mid point, pixels
    energy = frame_energy(speaker.audio(), speaker.meta.sample_rate, speaker.meta.fps, speaker.num_frames)
    return mouth, energy


def test_frame_energy_is_per_frame_rms() -> None:
    wave = np.concatenate([np.zeros(640), 0.5 * np.ones(640)]).astype(np.float32)
    energy = frame_energy(wave, 16000, 25.0, 3)
    assert energy.shape == (3,)
    assert energy[1] == pytest.approx(np.log(0.5), abs=1e-4) and energy[0] < -8 and energy[2] < -8


def test_ground_truth_is_in_sync_and_shifts_are_found(tiny_speaker: Path) -> None:
    mouth, energy = _signals(tiny_speaker)
    aligned = sync_offset(mouth, energy, max_lag=10)
    assert abs(aligned.offset) <= 1 and aligned.confidence > 0.1
    for shift in (3, 5, -4):
        delayed = np.roll(mouth, shift)  # the video shows each sound `shift` frames later
        assert sync_offset(delayed, energy, max_lag=10).offset - aligned.offset == shift


def test_unrelated_signals_have_low_confidence() -> None:
    rng = np.random.default_rng(0)
    score = sync_offset(rng.standard_normal(500), rng.standard_normal(500))
    assert score.correlation < 0.2


def test_bad_lengths_raise() -> None:
    with pytest.raises(ValueError, match="one length"):
        sync_offset(np.zeros(50), np.zeros(40))

"""Image-space mouth metrics: MediaPipe lip points on the synthetic speaker's frames land on its ground-truth lips,
and identical render / target pairs score LMD 0 and mouth correlation 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from talkzoo.datamodules.speaker import Speaker
from talkzoo.zoo.face_indices import LIP_INDICES
from talkzoo.zoo.metrics.image_mouth import ImageMouthMetrics, pearson_from_sums
from talkzoo.zoo.metrics.lip_tracker import track_lips


def _frames(speaker: Speaker, count: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.linspace(0, speaker.meta.num_frames - 1, count).round().astype(int)
    frames = np.stack([speaker.frame(int(i)) for i in index])
    return frames, np.asarray(speaker.landmarks)[index][:, list(LIP_INDICES), :2]


def test_tracked_lips_match_the_ground_truth_landmarks(tiny_speaker: Path) -> None:
    frames, truth = _frames(Speaker(tiny_speaker), 6)
    points, found = track_lips(frames)
    assert found.all(), "MediaPipe must find the synthetic face (64², upscaled for detection)"
    error = np.linalg.norm(points - truth, axis=-1).mean(axis=-1)  # px per frame
    assert np.median(error) < 0.06 * frames.shape[1], error


def test_identical_pairs_score_zero_distance_and_full_correlation(tiny_speaker: Path) -> None:
    frames, _ = _frames(Speaker(tiny_speaker), 8)
    metrics = ImageMouthMetrics()
    for frame in frames:
        metrics.add(frame, frame)
    metrics.add(np.zeros_like(frames[0]), frames[0])  # no face in the render: counted, not matched
    metrics.close()
    values = ImageMouthMetrics.compute(metrics.sums())
    assert values["mouth_lmd"] == 0.0
    assert values["mouth_found"] == 8 / 9
    assert values["mouth_corr"] > 0.999


def test_pearson_from_sums_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=50), rng.normal(size=50)
    y = y + 0.5 * x
    sums = (50, x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum())
    assert abs(pearson_from_sums(*sums) - np.corrcoef(x, y)[0, 1]) < 1e-9
    assert pearson_from_sums(1, 1.0, 1.0, 1.0, 1.0, 1.0) == 0.0

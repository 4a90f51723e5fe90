"""Image-space mouth metrics: MediaPipe lip points on the synthetic speaker's frames land on its ground-truth lips,
and identical render / target pairs score LMD 0 and mouth correlation 1; a mirror image's points map back onto the
frame's; a video's opening series is smoothed over frames, which brings a jittery measurement closer to the true
opening."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from talkzoo.datamodules.speaker import Speaker
from talkzoo.zoo.face_indices import LIP_INDICES, LIP_MIRROR
from talkzoo.zoo.metrics.image_mouth import ImageMouthMetrics, pearson_from_sums
from talkzoo.zoo.metrics.lip_tracker import LipTracker, mouth_opening_series, smooth_over_frames, track_lips


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


def _lips_with_opening(opening: np.ndarray) -> np.ndarray:
    """Lips [N, 40, 2] whose inner-lip midpoints are `opening` px apart (every other point at the origin)."""
    lips = np.zeros((len(opening), 40, 2), np.float32)
    lips[:, LIP_INDICES.index(14), 1] = opening
    return lips


def test_smoothing_keeps_slow_openings_and_pulls_a_jittery_measurement_towards_the_truth() -> None:
    rng = np.random.default_rng(0)
    frames = np.arange(400)
    truth = 3.0 + np.sin(2 * np.pi * frames / 12.5) + 0.5 * np.sin(2 * np.pi * frames / 7.0)  # speech: 2–4 Hz at 25 fps
    measured = truth + rng.normal(scale=0.6, size=len(truth))  # per-frame tracker jitter
    raw = mouth_opening_series(_lips_with_opening(measured), smooth=False)
    smoothed = mouth_opening_series(_lips_with_opening(measured))
    np.testing.assert_allclose(raw, measured, atol=1e-5)
    assert np.corrcoef(smoothed, truth)[0, 1] > np.corrcoef(raw, truth)[0, 1] + 0.03
    assert np.corrcoef(smooth_over_frames(truth), truth)[0, 1] > 0.99  # the true opening itself barely changes
    np.testing.assert_allclose(smooth_over_frames(np.full(5, 2.0)), 2.0)  # ends held: a constant stays constant
    np.testing.assert_allclose(smooth_over_frames(np.array([0.0, 4.0, 0.0])), [1.0, 2.0, 1.0])


def test_gaps_are_filled_before_smoothing() -> None:
    lips = _lips_with_opening(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    lips[2] = np.nan  # no face in the middle frame
    np.testing.assert_allclose(mouth_opening_series(lips), [1.25, 2.0, 3.0, 4.0, 4.75])
    assert np.isnan(mouth_opening_series(np.full((3, 40, 2), np.nan, np.float32))).all()


def test_lip_mirror_pairs_left_with_right_and_keeps_the_midline() -> None:
    assert sorted(LIP_MIRROR) == list(range(40))
    assert all(LIP_MIRROR[LIP_MIRROR[k]] == k for k in range(40))
    midline = [k for k in range(40) if LIP_MIRROR[k] == k]
    assert [LIP_INDICES[k] for k in midline] == [0, 13, 14, 17]


def test_a_mirror_image_detected_and_mapped_back_lands_on_the_frames_lips(tiny_speaker: Path) -> None:
    frames, truth = _frames(Speaker(tiny_speaker), 6)
    width = frames.shape[2]
    with LipTracker(static=True) as single, LipTracker(static=True, mirror=True) as both:
        for frame, lips in zip(frames, truth, strict=True):
            direct, flipped, averaged = single(frame), single(np.ascontiguousarray(frame[:, ::-1])), both(frame)
            assert direct is not None and flipped is not None and averaged is not None
            mapped = flipped[list(LIP_MIRROR)]
            mapped[:, 0] = width - mapped[:, 0]
            unlabelled = flipped.copy()
            unlabelled[:, 0] = width - unlabelled[:, 0]  # mirrored back but left and right points not swapped
            error = np.linalg.norm(mapped - direct, axis=-1).mean()
            assert error < 0.03 * width < np.linalg.norm(unlabelled - direct, axis=-1).mean()
            np.testing.assert_allclose(averaged, (direct + mapped) / 2, atol=1e-4)
            assert np.linalg.norm(averaged - lips, axis=-1).mean() < 0.06 * width

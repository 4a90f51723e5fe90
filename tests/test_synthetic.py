"""The synthetic speaker (`talkzoo synth`): every speaker entry, exact geometry, audio-driven motion, MediaPipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkzoo.datamodules.media import probe_video, read_audio
from talkzoo.datamodules.speaker import ARRAYS, NUM_LANDMARKS, PARSING_LABELS, Speaker
from talkzoo.datamodules.synthetic import animate, clip_audio, synthesize
from talkzoo.datamodules.synthetic.mesh_indices import EYES, LIP_POINTS
from talkzoo.datamodules.synthetic.portrait import build_portrait
from talkzoo.datamodules.synthetic.render import Renderer
from talkzoo.datamodules.validate import validate_speaker

SECONDS, SIZE, FPS = 3.0, 64, 25
T = int(round(SECONDS * FPS))


def _project(speaker: Speaker, points: np.ndarray) -> np.ndarray:
    """Head-frame points [T, K, 3] -> (pixels x, y, camera Z) [T, K, 3] through pose.npy and the intrinsics."""
    pose = np.asarray(speaker.pose, dtype=np.float64)
    cam = np.einsum("tij,tkj->tki", pose[:, :3, :3], points.astype(np.float64)) + pose[:, None, :3, 3]
    fx, fy, cx, cy = speaker.meta.intrinsics.astype(np.float64)
    return np.stack([fx * cam[..., 0] / cam[..., 2] + cx, fy * cam[..., 1] / cam[..., 2] + cy, cam[..., 2]], -1)


def _frame_rms(wave: np.ndarray, num_frames: int, hop: int = 640) -> np.ndarray:
    """[T] RMS of each frame's 40 ms window of wave [N]."""
    return np.sqrt((wave[: num_frames * hop].reshape(num_frames, hop).astype(np.float64) ** 2).mean(axis=1))


# ---- the speaker folder ----------------------------------------------------------------------------------------
def test_speaker_folder_is_valid_and_complete(tiny_speaker: Path) -> None:
    report = validate_speaker(tiny_speaker)
    assert report.ok, report.problems
    speaker = Speaker(tiny_speaker)
    m = speaker.meta
    assert (m.width, m.height, m.num_frames, m.fps, m.sample_rate) == (SIZE, SIZE, T, FPS, 16000)
    assert m.focal == pytest.approx(2.5 * SIZE) and m.cx == m.cy == SIZE / 2
    for name, (shape, dtype) in ARRAYS.items():
        array = speaker.array(name)
        assert array.shape == (T, *shape) and array.dtype == np.dtype(dtype), name
    assert np.asarray(speaker.detected).all()
    assert len(speaker.audio()) == T * 640
    for folder in ("frames", "parsing", "torso"):
        assert len(list((tiny_speaker / folder).iterdir())) == T
    assert speaker.frame(0).shape == (SIZE, SIZE, 3) and speaker.background().shape == (SIZE, SIZE, 3)
    mel, info = speaker.feature("mel")
    assert mel.ndim == 2 and mel.shape[1] == info["dim"] and info["rate_hz"] > 0
    assert speaker.meta.provenance["synth"]["done"]


def test_parsing_and_torso_layers_agree(tiny_speaker: Path) -> None:
    speaker = Speaker(tiny_speaker)
    for index in (0, T // 2, T - 1):
        labels = speaker.parsing(index)
        assert set(np.unique(labels)) == set(PARSING_LABELS.values()), index
        torso = speaker.torso(index)
        body = (labels == PARSING_LABELS["neck"]) | (labels == PARSING_LABELS["torso"])
        assert ((torso[..., 3] > 0) == body).all()
        frame = speaker.frame(index).astype(int)
        # torso colours are the frame's own (the frame went through JPEG, so compare loosely)
        assert np.abs(torso[body][:, :3].astype(int) - frame[body]).mean() < 8


def test_raw_video_probes_as_h264_aac_25fps(synthetic_output: Path) -> None:
    info = probe_video(synthetic_output / "raw.mp4")
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.fps == pytest.approx(25.0) and info.num_frames == T
    assert (info.width, info.height) == (SIZE, SIZE) and info.audio_rate == 16000
    assert abs(info.duration_s - SECONDS) <= 1 / FPS
    assert abs(info.audio_duration_s - info.duration_s) <= 1 / FPS
    audio = read_audio(synthetic_output / "raw.mp4", 16000)
    wav = Speaker(synthetic_output / "speaker").audio()
    assert abs(len(audio) - len(wav)) <= 640
    n = min(len(audio), len(wav))
    assert np.corrcoef(audio[:n], wav[:n])[0, 1] > 0.9  # the same speech, in sync


# ---- exact geometry --------------------------------------------------------------------------------------------
def test_canonical_through_pose_reproduces_landmarks(tiny_speaker: Path) -> None:
    speaker = Speaker(tiny_speaker)
    projected = _project(speaker, np.asarray(speaker.canonical))
    landmarks = np.asarray(speaker.landmarks, dtype=np.float64)
    t_z = np.asarray(speaker.pose)[:, 2, 3].astype(np.float64)
    np.testing.assert_allclose(projected[..., :2], landmarks[..., :2], atol=1e-3)
    np.testing.assert_allclose(projected[..., 2] - t_z[:, None], landmarks[..., 2], atol=1e-3)
    rot = np.asarray(speaker.pose, dtype=np.float64)[:, :3, :3]
    np.testing.assert_allclose(rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape), atol=1e-5)
    assert np.abs(landmarks[..., :2] - landmarks[:1, :, :2]).max() > 1.0  # the head really moves


def test_shoulders_sit_on_the_torso_edge_at_head_depth(tiny_speaker: Path) -> None:
    speaker = Speaker(tiny_speaker)
    projected = _project(speaker, np.asarray(speaker.shoulders))
    t_z = np.asarray(speaker.pose)[:, 2, 3].astype(np.float64)
    np.testing.assert_allclose(projected[..., 2], np.broadcast_to(t_z[:, None], projected.shape[:2]), atol=1e-3)
    left, right = projected[:, :9, 0], projected[:, 9:, 0]
    assert (
        (np.diff(left, axis=1) > 0).all() and (np.diff(right, axis=1) > 0).all() and (left.max(1) < right.min(1)).all()
    )
    hits = []
    for index in (0, T // 2, T - 1):
        labels = speaker.parsing(index)
        for x, y in projected[index, :, :2]:
            xi = int(np.clip(round(x), 0, SIZE - 1))
            below = labels[int(np.clip(round(y + 1.5), 0, SIZE - 1)), xi]
            above = labels[int(np.clip(round(y - 2.5), 0, SIZE - 1)), xi]
            hits.append(below == PARSING_LABELS["torso"] and above != PARSING_LABELS["torso"])
    assert np.mean(hits) >= 0.8


# ---- motion ----------------------------------------------------------------------------------------------------
def test_mouth_opening_follows_loudness(tiny_speaker: Path) -> None:
    speaker = Speaker(tiny_speaker)
    canonical = np.asarray(speaker.canonical, dtype=np.float64)
    opening = canonical[:, 14, 1] - canonical[:, 13, 1]
    rms = _frame_rms(speaker.audio(), T)
    assert opening.max() - opening.min() > 0.02 * SIZE  # the mouth opens visibly (≈ 20% of its width)
    assert np.corrcoef(opening, rms)[0, 1] > 0.5
    lips = canonical[:, list(LIP_POINTS)]
    assert np.abs(lips - lips[:1]).max() > 1.0


def test_blinks_match_the_eyelid_gap(tiny_speaker: Path) -> None:
    speaker = Speaker(tiny_speaker)
    blink = np.asarray(speaker.blink, dtype=np.float64)
    canonical = np.asarray(speaker.canonical, dtype=np.float64)
    assert blink.max() > 0.9 and 0 < (blink > 0).mean() < 0.3
    for upper, lower in EYES:
        gap = (canonical[:, list(lower[1:-1]), 1] - canonical[:, list(upper[1:-1]), 1]).mean(axis=1)
        closure = 1.0 - gap / np.median(gap[blink == 0])
        assert np.corrcoef(closure, blink)[0, 1] > 0.99
        assert np.abs(closure - blink).max() < 0.1


def test_same_seed_is_identical(tiny_speaker: Path, tmp_path: Path) -> None:
    synthesize(tmp_path, seconds=SECONDS, size=SIZE, seed=0, progress=False)
    again, first = Speaker(tmp_path / "speaker"), Speaker(tiny_speaker)
    for name in ARRAYS:
        np.testing.assert_array_equal(again.array(name), first.array(name), err_msg=name)
    for index in (0, T // 2):
        np.testing.assert_array_equal(again.frame(index), first.frame(index))
        np.testing.assert_array_equal(again.parsing(index), first.parsing(index))
    np.testing.assert_array_equal(again.audio(), first.audio())


def test_other_seed_moves_differently_with_the_same_mouth() -> None:
    renderer = Renderer(build_portrait(SIZE))
    wave, frames = clip_audio(SECONDS)
    a, b = animate(renderer, wave, frames, seed=0), animate(renderer, wave, frames, seed=1)
    assert np.abs(a.pose - b.pose).max() > 1e-2 and not np.array_equal(a.blink, b.blink)
    np.testing.assert_array_equal(a.face[:, :3], b.face[:, :3])  # the mouth depends on the audio only


def test_landmarks_scale_with_size(tiny_speaker: Path) -> None:
    small, large = build_portrait(SIZE), build_portrait(2 * SIZE)
    np.testing.assert_allclose((small.landmarks[:, :2] + 0.5) * 2 - 0.5, large.landmarks[:, :2], atol=1e-6)
    assert small.landmarks.shape == (NUM_LANDMARKS, 3)


# ---- a real tracker agrees -------------------------------------------------------------------------------------
def test_mediapipe_tracks_the_synthetic_face(tmp_path: Path) -> None:
    from talkzoo.datamodules.synthetic.tracking import measure

    synthesize(tmp_path, seconds=2.0, size=256, seed=3, progress=False)
    result = measure(tmp_path / "speaker", tmp_path / "raw.mp4")
    # measured at 256², 2 s: 100% detected, lip error ≈ 1.0 px (2.6% IOD), lip-gap correlation ≈ 0.97
    assert result["detection_rate"] >= 0.99
    assert result["error_px_lips"] < 2.0 and result["error_iod_pct_lips"] < 5.0
    assert result["error_px_all"] < 2.5
    assert result["lip_gap_corr"] > 0.8

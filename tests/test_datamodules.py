"""DataModules over the speaker format: alignment, statistics, motion windows, frame items, determinism."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from talkzoo.datamodules.alignment import (
    check_feature_length,
    feature_windows,
    features_at_frames,
    frame_sample_ranges,
    frame_sample_start,
    waveform_window,
)
from talkzoo.datamodules.frames import FRAME_KEYS, FrameDataModule
from talkzoo.datamodules.sequence import MotionDataModule
from talkzoo.datamodules.speaker import Speaker, SpeakerFormatError
from talkzoo.datamodules.stats import SpeakerStats, compute_stats
from talkzoo.zoo import face_indices as fi
from talkzoo.zoo.head_motion import head_motion_to_pose, pose_to_head_motion

# ---------------------------------------------------------------------------------------------------------------
# Speakers
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def speaker_a(tiny_speaker: Path) -> Path:
    """The session's tiny synthetic speaker (64², 3 s, 75 frames: 68 train, 7 val), read-only."""
    return tiny_speaker


@pytest.fixture(scope="module")
def speaker_b(speaker_a: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second speaker: a copy of the first with a larger face and shoulders (so its stats differ)."""
    root = tmp_path_factory.mktemp("second") / "speaker_b"
    shutil.copytree(speaker_a, root)
    for name, factor in (("canonical", 1.25), ("shoulders", 0.8)):
        array = np.load(root / f"{name}.npy")
        np.save(root / f"{name}.npy", (array * factor).astype(np.float32))
    return root


def _motion(roots: list[Path], **kwargs: object) -> MotionDataModule:
    args = dict(window=16, stride=8, jitter=4, batch_size=2, seed=0)
    args.update(kwargs)
    dm = MotionDataModule([str(r) for r in roots], **args)
    dm.setup("fit")
    return dm


def _batches(loader: torch.utils.data.DataLoader) -> list[dict[str, torch.Tensor]]:
    return list(loader)


def _same_batches(a: list[dict[str, torch.Tensor]], b: list[dict[str, torch.Tensor]]) -> bool:
    return len(a) == len(b) and all(
        x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x) for x, y in zip(a, b, strict=True)
    )


# ---------------------------------------------------------------------------------------------------------------
# Face index sets
# ---------------------------------------------------------------------------------------------------------------


def _endpoints(connections: frozenset) -> list[int]:
    return sorted({i for edge in connections for i in edge})


def test_face_indices_match_mediapipe() -> None:
    from mediapipe.python.solutions import face_mesh_connections as fmc

    assert fi.LIP_INDICES == tuple(_endpoints(fmc.FACEMESH_LIPS)) and len(fi.LIP_INDICES) == 40
    blocks = [
        fmc.FACEMESH_LEFT_IRIS,
        fmc.FACEMESH_LEFT_EYE,
        fmc.FACEMESH_LEFT_EYEBROW,
        fmc.FACEMESH_RIGHT_IRIS,
        fmc.FACEMESH_RIGHT_EYE,
        fmc.FACEMESH_RIGHT_EYEBROW,
    ]
    assert fi.EYE_INDICES == tuple(i for block in blocks for i in _endpoints(block))
    assert len(fi.EYE_INDICES) == len(set(fi.EYE_INDICES)) == 60
    edges = {frozenset(e) for e in fmc.FACEMESH_LIPS}
    for polygon in (fi.MOUTH_OUTER, fi.MOUTH_INNER):
        assert len(polygon) == len(set(polygon)) == 20
        closed = list(polygon) + [polygon[0]]
        assert all(frozenset(pair) in edges for pair in zip(closed[:-1], closed[1:], strict=True))
    assert set(fi.MOUTH_OUTER) | set(fi.MOUTH_INNER) == set(fi.LIP_INDICES)
    assert {fi.UPPER_INNER_LIP_MID, fi.LOWER_INNER_LIP_MID} <= set(fi.MOUTH_INNER)
    assert fi.MOUTH_OUTER[:3] == (61, 146, 91)  # MODA's polygon order, not just the set


# ---------------------------------------------------------------------------------------------------------------
# Alignment
# ---------------------------------------------------------------------------------------------------------------


def test_features_at_frames_interpolates_at_frame_times() -> None:
    rate, fps, frames = 100.0, 25.0, 50
    times = np.arange(201) / rate
    values = np.stack([times, np.sin(7.3 * times)], 1).astype(np.float32)  # [201, 2]
    out = features_at_frames(values, rate, fps, frames)
    assert out.shape == (frames, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], np.arange(frames) / fps, atol=1e-6)  # frame i ↔ time i / 25
    np.testing.assert_allclose(out[:, 1], values[: 4 * frames : 4, 1], atol=1e-6)
    # A rate that does not divide: 30 fps from 50 Hz features interpolates between steps.
    values = (np.arange(101) / 50.0)[:, None].astype(np.float32)
    out = features_at_frames(values, 50.0, 30.0, 60)
    np.testing.assert_allclose(out[:, 0], np.arange(60) / 30.0, atol=1e-6)


def test_too_short_features_name_the_file_and_both_numbers() -> None:
    values = np.zeros((150, 4), dtype=np.float32)  # 1.5 s at 100 Hz for a 3 s video
    with pytest.raises(SpeakerFormatError) as info:
        features_at_frames(values, 100.0, 25.0, 75, source="/x/features/mel.npy")
    message = str(info.value)
    assert "/x/features/mel.npy" in message and "150" in message and "75" in message
    check_feature_length(301, 100.0, 25.0, 75, "ok")  # the usual N // 160 + 1 steps pass
    check_feature_length(149, 50.0, 25.0, 75, "ok")  # wav2vec2's (N - 400) // 320 + 1 steps pass
    with pytest.raises(SpeakerFormatError):
        check_feature_length(300 + 20, 100.0, 25.0, 75, "too long")


def test_feature_windows_are_centred_and_zero_padded() -> None:
    values = np.arange(1, 151, dtype=np.float32)[:, None] * np.ones((1, 3), dtype=np.float32)  # step j → j + 1
    windows = feature_windows(values, 50.0, 25.0, np.array([0, 10, 74]), window=16)
    assert windows.shape == (3, 16, 3) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[1, :, 0], np.arange(12, 28) + 1)  # frame 10 → steps [12, 28)
    np.testing.assert_array_equal(windows[0, :8, 0], 0)  # before the start: zeros
    np.testing.assert_array_equal(windows[0, 8:, 0], np.arange(0, 8) + 1)
    np.testing.assert_array_equal(windows[2, :, 0], np.r_[np.arange(140, 150) + 1, np.zeros(6)])  # past the end
    outside = feature_windows(values, 50.0, 25.0, np.array([-1, 75]), window=16, num_frames=75)
    assert not outside.any()


def test_audio_sample_ranges_do_not_drift() -> None:
    ranges = frame_sample_ranges(np.arange(9001), 16000, 30.0)
    assert ranges[9000, 0] == 4_800_000  # MODA's 9000 · 533 = 4_797_000 is 188 ms late
    assert (ranges[1:, 0] == ranges[:-1, 1]).all()
    assert set(np.diff(ranges[:, 0]).tolist()) == {533, 534}
    wave = np.arange(16000, dtype=np.float32)
    chunk = waveform_window(wave, 2, 4, 16000, 30.0, end_frame=5)
    assert chunk.shape == (2133,)
    start, stop = frame_sample_start(2, 16000, 30.0), frame_sample_start(5, 16000, 30.0)
    np.testing.assert_array_equal(chunk[: stop - start], wave[start:stop])
    assert not chunk[stop - start :].any()  # audio past the split end is zero


# ---------------------------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------------------------


def test_head_motion_round_trip() -> None:
    rng = np.random.default_rng(3)
    motion = np.concatenate([rng.normal(0, 0.3, (5, 3)), rng.normal(0, 1, (5, 3)), rng.uniform(0.5, 2, (5, 1))], 1)
    np.testing.assert_allclose(pose_to_head_motion(head_motion_to_pose(motion)), motion, atol=1e-5)


def test_stats_come_from_train_frames_only(speaker_a: Path, tmp_path: Path) -> None:
    root = tmp_path / "speaker"
    shutil.copytree(speaker_a, root)
    speaker = Speaker(root)
    train, val = speaker.split_indices("train"), speaker.split_indices("val")
    before = compute_stats(speaker)
    assert before.num_frames == len(train)
    canonical = np.asarray(speaker.canonical)
    np.testing.assert_allclose(before.mesh_mean, canonical[train].mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(before.lips_mean, before.mesh_mean[list(fi.LIP_INDICES)])
    for name in ("canonical", "shoulders", "pose"):
        array = np.load(root / f"{name}.npy")
        array[val] *= 3.0
        if name == "pose":
            array[val, 3] = [0, 0, 0, 1]
        np.save(root / f"{name}.npy", array)
    after = compute_stats(Speaker(root))
    for key, value in before.to_dict().items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(after.to_dict()[key]), err_msg=key)
    canonical = np.load(root / "canonical.npy")
    canonical[train[0]] += 1.0  # a train frame changes → the stats do
    np.save(root / "canonical.npy", canonical)
    assert not np.allclose(compute_stats(Speaker(root)).mesh_mean, before.mesh_mean)


def test_stats_round_trip_and_floor(speaker_a: Path) -> None:
    stats = compute_stats(Speaker(speaker_a))
    assert stats.mesh_mean.shape == (478, 3) and stats.lips_std.shape == (40, 3) and stats.eyes_std.shape == (60, 3)
    assert stats.head_mean.shape == (7,) and stats.torso_std.shape == (18, 3)
    restored = SpeakerStats.from_dict(stats.to_dict())
    for key, value in stats.tensors().items():
        assert torch.equal(value, restored.tensors()[key]), key
    assert SpeakerStats.from_dict(stats.tensors() | {"speaker": "x", "num_frames": 1, "subject_scale": 1.0})
    assert (stats.head_std > 0).all() and (stats.mesh_std > 0).all() and (stats.torso_std > 0).all()
    constant = stats.normalise("head", stats.head_mean[None].repeat(4, 0))
    assert np.isfinite(constant).all() and np.abs(constant).max() < 1e-4
    code = stats.subject_code()
    np.testing.assert_allclose(code.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(np.sqrt((code**2).sum(1).mean()), 1, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# Motion windows
# ---------------------------------------------------------------------------------------------------------------


def test_motion_items_shapes_and_split(speaker_a: Path) -> None:
    dm = _motion([speaker_a])
    speaker = Speaker(speaker_a)
    val_start, total = speaker.meta.val_start, speaker.num_frames
    item = dm.train_set[(0, 3)]
    d = dm.audio_dim
    expected = {
        "audio": ((16, d), torch.float32),
        "lips": ((16, 40, 3), torch.float32),
        "eyes": ((16, 60, 3), torch.float32),
        "head": ((16, 7), torch.float32),
        "torso": ((16, 18, 3), torch.float32),
        "subject": ((478, 3), torch.float32),
        "speaker_index": ((), torch.long),
        "start": ((), torch.long),
        "mask": ((16,), torch.bool),
    }
    assert set(item) == set(expected)
    for key, (shape, dtype) in expected.items():
        assert tuple(item[key].shape) == shape and item[key].dtype == dtype, key
    assert int(item["start"]) == 3
    loader = _motion([speaker_a], jitter=12).train_dataloader()
    starts = torch.cat([batch["start"] for _ in range(4) for batch in loader])
    assert (starts >= 0).all() and (starts + 16 <= val_start).all(), "a train window crosses into val"
    assert (starts % 8 != 0).any(), "no jitter"
    assert starts.max() + 16 > val_start - 8, "the last window should be able to reach the split end"
    starts = [int(dm.val_set[i]["start"]) for i in range(len(dm.val_set))]
    assert starts[0] == val_start and all(s >= val_start for s in starts)
    covered = sum(int(dm.val_set[i]["mask"].sum()) for i in range(len(dm.val_set)))
    assert covered == total - val_start  # the val windows tile the val split exactly
    # Normalisation is consistent: denormalised lips are the canonical landmarks.
    stats = dm.stats[0]
    lips = stats.denormalise("lips", item["lips"])
    np.testing.assert_allclose(lips.numpy(), speaker.canonical[3:19][:, list(fi.LIP_INDICES)], atol=1e-4)
    head = stats.denormalise("head", item["head"]).numpy()
    np.testing.assert_allclose(head_motion_to_pose(head), speaker.pose[3:19], atol=1e-4)


def test_motion_last_val_window_is_padded_with_mask(speaker_a: Path) -> None:
    dm = _motion([speaker_a], window=5, val_window=5, keys=["audio", "lips", "head", "mesh", "blink"])
    val_count = Speaker(speaker_a).num_frames - Speaker(speaker_a).meta.val_start
    last = dm.val_set[len(dm.val_set) - 1]
    valid = val_count % 5 or 5
    assert last["mask"].tolist() == [True] * valid + [False] * (5 - valid)
    assert last["mesh"].shape == (5, 478, 3) and last["blink"].shape == (5,)
    for key in ("audio", "lips", "head", "mesh", "blink"):
        assert not last[key][valid:].any(), key
    # A split shorter than the window: one padded train window.
    dm = _motion([speaker_a], window=200, stride=50)
    assert len(dm.train_set) == 1
    assert int(dm.train_set[0]["mask"].sum()) == Speaker(speaker_a).meta.val_start


def test_motion_waveform_items(speaker_a: Path) -> None:
    dm = _motion([speaker_a], audio_source="waveform", window=10)
    speaker = Speaker(speaker_a)
    item = dm.train_set[(1, 0)]
    spf = speaker.meta.sample_rate / speaker.meta.fps
    length = int(round(10 * spf))
    assert "audio" not in item and item["waveform"].shape == (length,) and item["waveform"].dtype == torch.float32
    first = int(round(int(item["start"]) * spf))
    np.testing.assert_array_equal(item["waveform"].numpy(), speaker.audio()[first : first + length])


def test_motion_determinism_seed_and_workers(speaker_a: Path) -> None:
    a = _batches(_motion([speaker_a], seed=1).train_dataloader())
    b = _batches(_motion([speaker_a], seed=1).train_dataloader())
    c = _batches(_motion([speaker_a], seed=2).train_dataloader())
    assert _same_batches(a, b) and not _same_batches(a, c)
    loader = _motion([speaker_a], seed=1).train_dataloader()
    assert _same_batches(_batches(loader), a) and not _same_batches(_batches(loader), a)  # epochs differ
    workers = _batches(_motion([speaker_a], seed=1, num_workers=2).train_dataloader())
    assert _same_batches(workers, a)


def test_motion_multi_speaker(speaker_a: Path, speaker_b: Path) -> None:
    dm = _motion([speaker_a, speaker_b], window=16, stride=16, jitter=0)
    assert len(dm.stats) == 2 and dm.num_speakers == 2
    np.testing.assert_allclose(dm.stats[1].mesh_mean, 1.25 * dm.stats[0].mesh_mean, rtol=1e-4, atol=1e-6)
    indices = {int(dm.train_set[i]["speaker_index"]) for i in range(len(dm.train_set))}
    assert indices == {0, 1}
    first = dm.train_set[0]
    second = next(dm.train_set[i] for i in range(len(dm.train_set)) if dm.train_set[i]["speaker_index"] == 1)
    # Each speaker is normalised with its own stats: the scaled copy gives the same normalised lips and subject.
    assert int(first["start"]) == int(second["start"])
    torch.testing.assert_close(first["lips"], second["lips"], atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(first["subject"], second["subject"], atol=1e-4, rtol=1e-4)
    batch = next(iter(dm.train_dataloader()))
    assert batch["lips"].shape == (2, 16, 40, 3)


def test_motion_rejects_bad_speakers(speaker_a: Path, tmp_path: Path) -> None:
    root = tmp_path / "short"
    shutil.copytree(speaker_a, root)
    mel = np.load(root / "features" / "mel.npy")
    np.save(root / "features" / "mel.npy", mel[: len(mel) // 2])
    with pytest.raises(SpeakerFormatError, match="mel.npy"):
        _motion([root])
    with pytest.raises(SpeakerFormatError, match="missing"):
        _motion([speaker_a], feature="hubert")
    with pytest.raises(SpeakerFormatError, match="speaker.json"):
        _motion([tmp_path / "nowhere"])


# ---------------------------------------------------------------------------------------------------------------
# Frame items
# ---------------------------------------------------------------------------------------------------------------


def _frames(root: Path, **kwargs: object) -> FrameDataModule:
    dm = FrameDataModule(str(root), **kwargs)
    dm.setup("fit")
    return dm


def test_frame_items_shapes_and_keys(speaker_a: Path) -> None:
    dm = _frames(speaker_a, audio_window=16, audio_context=8)
    meta = Speaker(speaker_a).meta
    item = dm.train_set[5]
    h, w, d = meta.height, meta.width, dm.audio_dim
    expected = {
        "image": ((3, h, w), torch.float32),
        "parsing": ((h, w), torch.long),
        "torso": ((4, h, w), torch.float32),
        "background": ((3, h, w), torch.float32),
        "pose": ((4, 4), torch.float32),
        "intrinsics": ((4,), torch.float32),
        "blink": ((), torch.float32),
        "landmarks": ((478, 3), torch.float32),
        "audio": ((8, 16, d), torch.float32),
        "index": ((), torch.long),
    }
    assert set(item) == set(expected) == set(FRAME_KEYS) | {"index"}
    for key, (shape, dtype) in expected.items():
        assert tuple(item[key].shape) == shape and item[key].dtype == dtype, key
    assert 0 <= item["image"].min() and item["image"].max() <= 1 and int(item["parsing"].max()) <= 3
    speaker = Speaker(speaker_a)
    values, info = speaker.feature("mel")
    windows = feature_windows(values, info["rate_hz"], meta.fps, np.arange(1, 9), 16, meta.num_frames)
    np.testing.assert_array_equal(item["audio"].numpy(), windows)  # frames 5-4 … 5+3
    assert int(dm.val_set[0]["index"]) == meta.val_start
    lean = _frames(speaker_a, keys=["pose", "intrinsics"]).train_set[0]
    assert set(lean) == {"pose", "intrinsics", "index"}
    with pytest.raises(ValueError, match="unknown frame item"):
        _frames(speaker_a, keys=["rgb"])


def test_frame_resize_keeps_geometry_consistent(speaker_a: Path) -> None:
    dm = _frames(speaker_a, size=[24, 40], keys=["image", "parsing", "pose", "intrinsics", "landmarks"])
    speaker = Speaker(speaker_a)
    full = _frames(speaker_a, keys=["landmarks", "intrinsics"]).train_set[7]
    item = dm.train_set[7]
    assert item["image"].shape == (3, 24, 40) and item["parsing"].shape == (24, 40)
    assert int(item["parsing"].max()) <= 3
    sx, sy = 40 / speaker.meta.width, 24 / speaker.meta.height
    np.testing.assert_allclose(item["landmarks"], full["landmarks"] * torch.tensor([sx, sy, sx]), rtol=1e-5)
    np.testing.assert_allclose(item["intrinsics"], full["intrinsics"] * torch.tensor([sx, sy, sx, sy]), rtol=1e-6)
    cam = speaker.canonical[7] @ item["pose"][:3, :3].numpy().T + item["pose"][:3, 3].numpy()
    fx, fy, cx, cy = item["intrinsics"].tolist()
    projected = np.stack([fx * cam[:, 0] / cam[:, 2] + cx, fy * cam[:, 1] / cam[:, 2] + cy], 1)
    error = np.abs(projected - item["landmarks"][:, :2].numpy())
    assert error.max() < 0.01, error.max()  # pixels of the resized image
    assert _frames(speaker_a, size=32, keys=["image"]).train_set[0]["image"].shape[1] == 32


def test_frame_loader_seeded_and_worker_independent(speaker_a: Path) -> None:
    keys = ["image", "pose", "audio", "background"]
    a = _batches(_frames(speaker_a, keys=keys, batch_size=4, seed=3).train_dataloader())
    b = _batches(_frames(speaker_a, keys=keys, batch_size=4, seed=3, num_workers=2).train_dataloader())
    c = _batches(_frames(speaker_a, keys=keys, batch_size=4, seed=4).train_dataloader())
    assert _same_batches(a, b) and not _same_batches(a, c)
    indices = torch.cat([batch["index"] for batch in a])
    assert sorted(indices.tolist()) == Speaker(speaker_a).split_indices("train").tolist()

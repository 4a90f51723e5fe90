"""The Avatar interface, for every registered method: a chunked stream gives the same frames as one push, frames
come out no later than the declared look-ahead, and the motion sources behave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkzoo.avatars import avatar_frames
from talkzoo.avatars.moda_motion import frame_noise
from talkzoo.avatars.motion import TrainingReplay, eye_opening, fit_blink_calibration, mirror_indices
from talkzoo.avatars.tracks import GaussianSmoother
from talkzoo.datamodules.speaker import Speaker
from talkzoo.methods import METHODS
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.face_indices import EYE_INDICES
from talkzoo.zoo.moda import smooth_time

SECONDS = 1.3


@pytest.fixture(scope="module")
def wave(tiny_speaker: Path) -> np.ndarray:
    return np.asarray(Speaker(tiny_speaker).audio()[: int(SECONDS * 16000)], dtype=np.float32)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_chunked_stream_equals_one_push(name: str, trained_runs: Path, tiny_speaker: Path, wave: np.ndarray) -> None:
    avatar = METHODS[name].load_avatar(trained_runs, tiny_speaker, "cpu")
    meta = Speaker(tiny_speaker).meta
    assert (avatar.height, avatar.width) == (meta.height, meta.width)  # the speaker's size, whatever it trained at
    one = avatar.push(wave) + avatar.finish()
    assert len(one) == round(len(wave) * meta.fps / 16000)
    assert one[0].shape == (meta.height, meta.width, 3) and one[0].dtype == np.uint8

    rng = np.random.default_rng(0)
    avatar.reset()
    lookahead = avatar.lookahead_frames
    assert isinstance(lookahead, int) and lookahead >= 0
    chunked: list[np.ndarray] = []
    start = 0
    while start < len(wave):
        step = int(rng.integers(1, 2400))
        chunked += avatar.push(wave[start : start + step])
        start += step
        # nothing is held back longer than the look-ahead the avatar declares (+1 for rounding of the last frame)
        assert len(chunked) >= avatar.frames_known - lookahead - 1, (len(chunked), avatar.frames_known, lookahead)
        assert len(chunked) <= avatar.frames_known
    chunked += avatar.finish()
    assert len(chunked) == len(one)
    assert all(np.array_equal(a, b) for a, b in zip(one, chunked, strict=True))
    assert list(avatar_frames(avatar, wave, piece_seconds=0.37))[-1].tobytes() == one[-1].tobytes()


def test_a_missing_stage_names_the_command(tiny_speaker: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="talkzoo fit --config moda"):
        METHODS["moda"].load_avatar(tmp_path, tiny_speaker, "cpu")
    with pytest.raises(UserError, match="talkzoo fit --config ernerf_head"):
        METHODS["ernerf"].load_avatar(tmp_path, tiny_speaker, "cpu")


def test_ernerf_motion_options(trained_runs: Path, tiny_speaker: Path, wave: np.ndarray) -> None:
    moda = METHODS["ernerf"].load_avatar(trained_runs, tiny_speaker, "cpu", motion="moda")
    replay = METHODS["ernerf"].load_avatar(trained_runs, tiny_speaker, "cpu", motion="training")
    assert replay.lookahead_frames <= moda.lookahead_frames  # the replay needs no audio to pose the head
    a, b = moda.push(wave) + moda.finish(), replay.push(wave) + replay.finish()
    assert len(a) == len(b) and any(not np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(UserError, match="motion 'dance'"):
        METHODS["ernerf"].load_avatar(trained_runs, tiny_speaker, "cpu", motion="dance")


def test_frame_noise_depends_only_on_the_frame() -> None:
    whole = frame_noise(7, 0, 10, 4)
    assert np.array_equal(frame_noise(7, 3, 5, 4), whole[3:8])
    assert not np.array_equal(frame_noise(8, 3, 5, 4), whole[3:8])


def test_gaussian_smoother_matches_the_offline_filter() -> None:
    series = np.random.default_rng(1).standard_normal((30, 3)).astype(np.float32)
    smoother = GaussianSmoother(1.5)
    offline = smooth_time(__import__("torch").from_numpy(series), 1.5).numpy()
    online = np.stack([smoother.at(series, t, len(series)) for t in range(len(series))])
    assert np.allclose(online, offline, atol=1e-5)
    assert smoother.lookahead == 5
    assert not smoother.ready(10, 15, None) and smoother.ready(10, 16, None) and smoother.ready(14, 15, 15)


def test_training_replay_and_blink_calibration() -> None:
    assert mirror_indices(3, np.arange(8)).tolist() == [0, 1, 2, 1, 0, 1, 2, 1]
    poses = np.tile(np.eye(4, dtype=np.float32), (5, 1, 1))
    poses[:, 0, 3] = np.arange(5) * 10.0
    blink = np.linspace(0, 1, 5).astype(np.float32)
    replay = TrainingReplay(poses, blink, np.array([1, 2, 3]), smooth=0.0)
    path = [replay.at(t, None) for t in range(6)]
    assert [p[0][0, 3] for p in path] == pytest.approx([10, 20, 30, 20, 10, 20])
    assert [p[1] for p in path] == pytest.approx([0.25, 0.5, 0.75, 0.5, 0.25, 0.5])
    smooth = TrainingReplay(poses, blink, np.array([1, 2, 3]), smooth=1.0)
    xs = [smooth.at(t, None)[0][0, 3] for t in range(6)]
    assert np.abs(np.diff(xs)).max() < 10.0  # the path is smoother than the raw ping-pong
    # a lid gap of 4 is open (0), 0 is closed (1), learnt from the training frames
    a, c = fit_blink_calibration(np.array([4.0, 3.0, 0.0, 4.0]), np.array([0.0, 0.25, 1.0, 0.0]))
    assert a == pytest.approx(-0.25) and c == pytest.approx(1.0)
    canonical = np.zeros((2, 478, 3), np.float32)
    canonical[0, [374, 145], 1] = 4.0  # lower lids 4 below the upper lids: open
    assert eye_opening(canonical).tolist() == [4.0, 0.0]
    assert eye_opening(canonical[:, list(EYE_INDICES)], EYE_INDICES).tolist() == [4.0, 0.0]

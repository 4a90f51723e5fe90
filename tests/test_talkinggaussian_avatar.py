"""TalkingGaussian's Avatar beyond the contract every registered method passes (tests/test_avatars.py): the motion
sources, the branch runs without a fusion run, and clear errors for missing runs and unknown options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from talkzoo.datamodules.speaker import Speaker
from talkzoo.methods import METHODS
from talkzoo.zoo.errors import UserError

SECONDS = 0.6


@pytest.fixture(scope="module")
def wave(tiny_speaker: Path) -> np.ndarray:
    return np.asarray(Speaker(tiny_speaker).audio()[: int(SECONDS * 16000)], dtype=np.float32)


def _frames(runs: Path, speaker: Path, wave: np.ndarray, **options: object) -> list[np.ndarray]:
    avatar = METHODS["talkinggaussian"].load_avatar(runs, speaker, "cpu", **options)
    return avatar.push(wave) + avatar.finish()


def test_motion_sources_move_the_head(trained_runs: Path, tiny_speaker: Path, wave: np.ndarray) -> None:
    moda = _frames(trained_runs, tiny_speaker, wave, motion="moda")
    replay = _frames(trained_runs, tiny_speaker, wave, motion="training")
    assert len(moda) == len(replay) == round(SECONDS * Speaker(tiny_speaker).meta.fps)
    # different poses put the splats elsewhere: the two sources give different frames
    assert any(not np.array_equal(a, b) for a, b in zip(moda, replay, strict=True))
    with pytest.raises(UserError, match="motion 'dance'"):
        METHODS["talkinggaussian"].load_avatar(trained_runs, tiny_speaker, "cpu", motion="dance")


def test_branch_runs_without_a_fusion_run(trained_runs: Path, tiny_speaker: Path, wave: np.ndarray,
                                          tmp_path: Path) -> None:  # fmt: skip
    for stage in ("talkinggaussian_face", "talkinggaussian_mouth"):
        (tmp_path / stage).symlink_to(trained_runs / stage)
    frames = _frames(tmp_path, tiny_speaker, wave, motion="training")
    meta = Speaker(tiny_speaker).meta
    assert len(frames) == round(SECONDS * meta.fps) and frames[0].shape == (meta.height, meta.width, 3)


def test_a_missing_branch_run_names_the_command(tiny_speaker: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="talkzoo fit --config talkinggaussian_face"):
        METHODS["talkinggaussian"].load_avatar(tmp_path, tiny_speaker, "cpu")

"""scripts/mouth_truth_check.py: measured mouth-opening series against a synthetic speaker's exact one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from talkzoo.zoo.face_indices import LOWER_INNER_LIP_MID, UPPER_INNER_LIP_MID

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def demo_folder(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A demo folder with 40 frames of exact landmarks (held out from frame 10 on) and two cached evaluations."""
    rng = np.random.default_rng(0)
    opening = 2.0 + np.abs(rng.normal(size=40))
    landmarks = np.zeros((40, 478, 3), np.float32)
    landmarks[:, UPPER_INNER_LIP_MID, 1] = 50.0
    landmarks[:, LOWER_INNER_LIP_MID, 1] = 50.0 + opening
    (tmp_path / "synth" / "speaker").mkdir(parents=True)
    np.save(tmp_path / "synth" / "speaker" / "landmarks.npy", landmarks)
    (tmp_path / "metrics.json").write_text(json.dumps({"held_out": {"first_frame": 10, "frames": 30}}))
    (tmp_path / "evaluation").mkdir()
    held = opening[10:]
    truth = held + rng.normal(scale=0.3, size=30)  # a noisy measurement of the truth
    follows = 0.5 * held + 1.0  # a video whose measured mouth follows the exact one, scaled
    np.savez(tmp_path / "evaluation" / "follows.npz", mouth_pred=follows, mouth_gt=truth)
    np.savez(tmp_path / "evaluation" / "still.npz", mouth_pred=rng.normal(size=30), mouth_gt=truth)
    return tmp_path, held


def test_each_series_is_scored_against_the_exact_opening(demo_folder: tuple[Path, np.ndarray]) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import mouth_truth_check as script

    folder, held = demo_folder
    rows = {name: (exact, measured) for name, exact, measured in script.check(folder)}
    truth_exact, _ = rows["ground-truth frames (measured)"]
    assert 0.6 < truth_exact < 0.95  # the noisy measurement follows the exact opening, not perfectly
    assert rows["follows"][0] == pytest.approx(1.0)
    assert rows["follows"][1] == pytest.approx(truth_exact, abs=1e-6)  # same series up to scale
    assert abs(rows["still"][0]) < 0.5
    assert script.main([str(folder)]) == 0


def test_a_folder_without_exact_landmarks_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import mouth_truth_check as script

    assert script.main([str(tmp_path)]) == 2
    assert "synth/speaker/landmarks.npy" in capsys.readouterr().err

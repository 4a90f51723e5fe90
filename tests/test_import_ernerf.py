"""`talkzoo import-ernerf`: a small folder in the ER-NeRF / RAD-NeRF processed layout (written here from the
synthetic speaker's ground truth) converts into a valid speaker with the same poses, parsing, blink and features."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from talkzoo.cli import main
from talkzoo.datamodules.importers.ernerf_layout import (
    flatten_windows,
    nerf_matrix_to_ngp,
    ngp_to_nerf_matrix,
    parsing_colours,
    pose_to_ernerf,
)
from talkzoo.datamodules.speaker import Speaker
from talkzoo.datamodules.validate import validate_speaker

SIZE, SECONDS = 192, 3.0
FEAT_DIM = 16


def write_ernerf_folder(speaker_root: Path, out: Path) -> dict[str, np.ndarray]:
    """An ER-NeRF data folder from a speaker folder; returns the values written (au, hubert, deepspeech)."""
    sp = Speaker(speaker_root)
    t, m = sp.num_frames, sp.meta
    for name in ("ori_imgs", "parsing", "torso_imgs"):
        (out / name).mkdir(parents=True)
    for i in range(t):
        cv2.imwrite(str(out / "ori_imgs" / f"{i}.jpg"), cv2.cvtColor(sp.frame(i), cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(out / "parsing" / f"{i}.png"), parsing_colours(sp.parsing(i)))
        cv2.imwrite(str(out / "torso_imgs" / f"{i}.png"), cv2.cvtColor(sp.torso(i), cv2.COLOR_RGBA2BGRA))
    cv2.imwrite(str(out / "bc.jpg"), cv2.cvtColor(sp.background(), cv2.COLOR_RGB2BGR))
    shutil.copy(speaker_root / "audio.wav", out / "aud.wav")
    rng = np.random.default_rng(0)
    hubert = rng.normal(size=(t, 2, FEAT_DIM)).astype(np.float32)
    deepspeech = rng.normal(size=(t - 1, 16, 29)).astype(np.float32)  # DeepSpeech often gives T - 1 windows
    np.save(out / "aud_hu.npy", hubert)
    np.save(out / "aud_ds.npy", deepspeech)
    au = rng.uniform(0, 2.5, size=t)
    with open(out / "au.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", " face_id", " timestamp", " confidence", " success", " AU45_r"])
        for i in range(t):
            writer.writerow([i + 1, 0, i / 25, 0.98, 1, f"{au[i]:.4f}"])
    matrices = pose_to_ernerf(np.asarray(sp.pose))
    split = int(t * 10 / 11)
    for name, ids in (("train", range(split)), ("val", range(split, t))):
        frames = [{"img_id": i, "aud_id": i, "transform_matrix": matrices[i].tolist()} for i in ids]
        data = {"focal_len": m.focal, "cx": m.cx, "cy": m.cy, "frames": frames}
        (out / f"transforms_{name}.json").write_text(json.dumps(data))
    return {"au": au, "hubert": hubert, "deepspeech": deepspeech, "split": np.array(split)}


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from talkzoo.datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("ernerf_truth")
    synthesize(out, seconds=SECONDS, size=SIZE, seed=2, progress=False)
    return out / "speaker"


@pytest.fixture(scope="module")
def ernerf_dir(truth: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    folder = tmp_path_factory.mktemp("ernerf") / "obama"
    return folder, write_ernerf_folder(truth, folder)


@pytest.fixture(scope="module")
def imported(ernerf_dir: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imported") / "speaker"
    assert main(["import-ernerf", str(ernerf_dir[0]), str(out), "--quiet"]) == 0
    return out


def test_ngp_conversion_matches_the_loader_formula() -> None:
    p = np.arange(16, dtype=np.float64).reshape(4, 4)
    p[3] = (0, 0, 0, 1)
    new = nerf_matrix_to_ngp(p)
    expected = [[p[1, 0], -p[1, 1], -p[1, 2], p[1, 3] * 4], [p[2, 0], -p[2, 1], -p[2, 2], p[2, 3] * 4],
                [p[0, 0], -p[0, 1], -p[0, 2], p[0, 3] * 4], [0, 0, 0, 1]]  # fmt: skip
    np.testing.assert_allclose(new, expected)
    np.testing.assert_allclose(ngp_to_nerf_matrix(new), p)


def test_imported_speaker_validates(imported: Path) -> None:
    report = validate_speaker(imported)
    assert report.ok, report.problems


def test_poses_intrinsics_and_split_carry_over(imported: Path, truth: Path, ernerf_dir: tuple) -> None:
    got, want = Speaker(imported), Speaker(truth)
    np.testing.assert_allclose(got.pose, want.pose, atol=1e-4)
    assert (got.meta.focal, got.meta.cx, got.meta.cy) == pytest.approx((want.meta.focal, want.meta.cx, want.meta.cy))
    assert got.meta.val_start == int(ernerf_dir[1]["split"])
    assert got.num_frames == want.num_frames


def test_parsing_torso_and_background_carry_over(imported: Path, truth: Path) -> None:
    got, want = Speaker(imported), Speaker(truth)
    for i in (0, got.num_frames // 2):
        np.testing.assert_array_equal(got.parsing(i), want.parsing(i))
        np.testing.assert_array_equal(got.torso(i)[..., 3], want.torso(i)[..., 3])
    assert np.abs(got.background().astype(int) - want.background()).mean() < 3  # one JPEG round trip


def test_blink_from_au45(imported: Path, ernerf_dir: tuple) -> None:
    expected = np.clip(ernerf_dir[1]["au"], 0, 2) / 2
    np.testing.assert_allclose(Speaker(imported).blink, expected, atol=1e-4)


def test_features_are_reflattened_to_50hz(imported: Path, ernerf_dir: tuple) -> None:
    sp = Speaker(imported)
    values, info = sp.feature("hubert")
    assert info["rate_hz"] == 50 and values.shape == (2 * sp.num_frames, FEAT_DIM)
    np.testing.assert_allclose(values, flatten_windows(ernerf_dir[1]["hubert"]))
    ds, _ = sp.feature("deepspeech")
    np.testing.assert_allclose(ds[:2], ernerf_dir[1]["deepspeech"][0, 8:10])
    assert "mel" in sp.feature_names()


def test_landmarks_recomputed_with_mediapipe(imported: Path, truth: Path) -> None:
    got, want = np.asarray(Speaker(imported).landmarks), np.asarray(Speaker(truth).landmarks)
    iod = np.linalg.norm(want[:, 468, :2] - want[:, 473, :2], axis=-1)
    err = np.linalg.norm(got[..., :2] - want[..., :2], axis=-1).mean(axis=1) / iod
    assert err.mean() < 0.06


def test_loads_in_the_datamodules(imported: Path) -> None:
    from talkzoo.datamodules.frames import FrameDataModule
    from talkzoo.datamodules.sequence import MotionDataModule

    frames = FrameDataModule(str(imported), feature="hubert", audio_window=2)
    frames.setup("fit")
    assert next(iter(frames.train_dataloader()))["audio"].shape[-1] == FEAT_DIM
    motion = MotionDataModule([str(imported)], window=25, stride=25, jitter=0, batch_size=1)
    motion.setup("fit")
    next(iter(motion.train_dataloader()))


def test_bad_folders(tmp_path: Path, ernerf_dir: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    def fails(src: Path, out: Path, expect: str) -> None:
        assert main(["import-ernerf", str(src), str(out), "--quiet"]) != 0
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("talkzoo import-ernerf")]
        assert len(lines) == 1 and expect in lines[0], lines
        assert not validate_speaker(out).ok

    fails(tmp_path / "missing", tmp_path / "o1", "no such folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(empty, tmp_path / "o2", "no transforms_train.json")
    broken = tmp_path / "broken"
    shutil.copytree(ernerf_dir[0], broken)
    (broken / "torso_imgs" / "5.png").unlink()
    fails(broken, tmp_path / "o3", "5.png")
    gappy = tmp_path / "gappy"
    shutil.copytree(ernerf_dir[0], gappy)
    data = json.loads((gappy / "transforms_train.json").read_text())
    data["frames"] = [f for f in data["frames"] if f["img_id"] != 3]
    (gappy / "transforms_train.json").write_text(json.dumps(data))
    fails(gappy, tmp_path / "o4", "img_ids")

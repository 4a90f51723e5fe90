"""`talkzoo import-ernerf` against ground truth, and against `talkzoo preprocess` of the same video.

The ER-NeRF data folder is written here the way ER-NeRF's own data_utils/process.py writes it, from a 3DMM-style
tracker result built from the synthetic speaker's exact head poses, with none of the importer's code:
euler angles for data_utils/face_tracking/geo_transform.py's `euler2rot` (R = Rx · Ry · Rz with Rz the transpose of
the textbook one), translations in the tracker's decimetres, OpenGL camera axes (the tracker projects
u = -f X / Z + cx, v = f Y / Z + cy), and a head origin that is not the synthetic one (a 3DMM's mean-face centroid
sits elsewhere in the head); process.py's `save_transforms` then stores transform_matrix = [[Rᵀ, -Rᵀ t], [0, 1]]
with t = trans / 10 (metres), the first int(N · 10 / 11) frames in transforms_train.json, the rest in
transforms_val.json. ori_imgs are the frames of raw.mp4, parsing the BiSeNet colour map (BGR head (255, 0, 0), neck
(0, 255, 0), torso (0, 0, 255), background white), torso_imgs BGRA, au.csv OpenFace's CSV with ' AU45_r'.
"""

from __future__ import annotations

import csv
import json
import shutil
import wave
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from talkzoo.cli import main
from talkzoo.datamodules.media import iter_frames
from talkzoo.datamodules.speaker import PARSING_LABELS, Speaker
from talkzoo.datamodules.validate import validate_speaker

ROOT = Path(__file__).resolve().parents[1]
SIZE, SECONDS, SEED = 96, 4.0, 3
CHEEK_SPAN_M = 0.10  # the synthetic face's cheek span (landmarks 50-280) in the tracker's metres
# Where the tracker's head origin sits in the synthetic head frame (OpenCV-style head axes: x right, y down, z into
# the face), in metres: 2 cm nearer the face and 1.2 cm lower than the synthetic origin (half a cheek span behind
# MODA's anchor), as a 3DMM's mean-face centroid would be somewhere else than the format's origin.
TRACKER_ORIGIN_M = np.array([0.0, 0.012, -0.02])
FEAT_DIM = 16
FLIP = np.diag([1.0, -1.0, -1.0])  # OpenCV <-> OpenGL camera axes (y and z flipped)
PARSING_BGR = {"head": (255, 0, 0), "neck": (0, 255, 0), "torso": (0, 0, 255)}  # data_utils/face_parsing/test.py


def euler2rot(euler: np.ndarray) -> np.ndarray:
    """ER-NeRF's data_utils/face_tracking/geo_transform.py `euler2rot` in numpy: [N, 3] (theta, phi, psi) -> [N, 3, 3].
    The original concatenates column vectors; so do we (np.stack on the last axis)."""
    theta, phi, psi = euler[:, 0], euler[:, 1], euler[:, 2]
    one, zero = np.ones_like(theta), np.zeros_like(theta)

    def columns(*cols: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        return np.stack([np.stack(c, axis=-1) for c in cols], axis=-1)

    rot_x = columns((one, zero, zero), (zero, np.cos(theta), np.sin(theta)), (zero, -np.sin(theta), np.cos(theta)))
    rot_y = columns((np.cos(phi), zero, -np.sin(phi)), (zero, one, zero), (np.sin(phi), zero, np.cos(phi)))
    rot_z = columns((np.cos(psi), -np.sin(psi), zero), (np.sin(psi), np.cos(psi), zero), (zero, zero, one))
    return rot_x @ (rot_y @ rot_z)


def tracker_projection(
    points: np.ndarray, euler: np.ndarray, trans: np.ndarray, focal: float, cx: float, cy: float
) -> np.ndarray:
    """geo_transform.py's euler_trans_geo + proj_geo: head-model points [N, P, 3] -> pixels [N, P, 2]."""
    cam = np.einsum("nij,npj->npi", euler2rot(euler), points) + trans[:, None, :]
    return np.stack([-focal * cam[..., 0] / cam[..., 2] + cx, focal * cam[..., 1] / cam[..., 2] + cy], axis=-1)


def transform_matrices(euler: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """process.py `save_transforms` per frame: float32 [N, 4, 4] = [[Rᵀ, -Rᵀ (trans / 10)], [0, 0, 0, 1]]."""
    rot_inv = euler2rot(euler).transpose(0, 2, 1)
    trans_inv = -np.einsum("nij,nj->ni", rot_inv, trans / 10.0)
    out = np.tile(np.eye(4, dtype=np.float32), (len(euler), 1, 1))
    out[:, :3, :3], out[:, :3, 3] = rot_inv, trans_inv
    return out


def save_transforms(out: Path, euler: np.ndarray, trans: np.ndarray, focal: float, w: int, h: int) -> None:
    """process.py `save_transforms`: one matrix per frame, the first int(N * 10 / 11) frames train, the rest val."""
    matrices = transform_matrices(euler, trans)
    split = int(len(euler) * 10 / 11)
    for name, ids in (("train", range(split)), ("val", range(split, len(euler)))):
        frames = [{"img_id": i, "aud_id": i, "transform_matrix": matrices[i].tolist()} for i in ids]
        data = {"focal_len": float(focal), "cx": float(w / 2.0), "cy": float(h / 2.0), "frames": frames}
        (out / f"transforms_{name}.json").write_text(json.dumps(data, indent=2))


def tracker_result(truth: Speaker) -> dict[str, np.ndarray | float]:
    """What a 3DMM tracker would report for the synthetic speaker: euler [T, 3], trans [T, 3] (decimetres, OpenGL
    camera), plus the ground truth it came from: R [T, 3, 3] and t_m [T, 3] (head -> OpenCV camera, tracker origin,
    metres), the synthetic origin's t [T, 3] in metres and metres_per_unit (synthetic units -> metres)."""
    pose = np.asarray(truth.pose, np.float64)
    rot, t_units = pose[:, :3, :3], pose[:, :3, 3]
    canonical = np.asarray(truth.canonical, np.float64)
    metres_per_unit = CHEEK_SPAN_M / float(np.linalg.norm(canonical[:, 50] - canonical[:, 280], axis=-1).mean())
    t_synthetic_m = t_units * metres_per_unit
    t_m = t_synthetic_m + np.einsum("tij,j->ti", rot, TRACKER_ORIGIN_M)  # X_synthetic = X_tracker + origin
    rot_gl = FLIP @ rot @ FLIP  # the head model's axes are OpenGL-like too (y up, z out of the face)
    xyz = Rotation.from_matrix(rot_gl).as_euler("XYZ")  # intrinsic: R = Rx(a) Ry(b) Rz(c)
    euler = np.stack([xyz[:, 0], xyz[:, 1], -xyz[:, 2]], axis=1)  # euler2rot's Rz(psi) is the textbook Rz(-psi)
    np.testing.assert_allclose(euler2rot(euler), rot_gl, rtol=0, atol=1e-6)  # pose.npy is float32
    trans = 10.0 * t_m @ FLIP  # decimetres, OpenGL camera axes
    return {"euler": euler, "trans": trans, "R": rot, "t_m": t_m, "t_synthetic_m": t_synthetic_m,
            "metres_per_unit": metres_per_unit}  # fmt: skip


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """16-bit mono PCM, what `ffmpeg -i VIDEO -f wav -ar 16000 aud.wav` gives for a mono track."""
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((np.clip(samples, -1, 1) * 32767).round().astype("<i2").tobytes())


def write_ernerf_folder(synth: Path, out: Path) -> dict:
    """An ER-NeRF data folder for the synthetic speaker `synth/speaker` and its video `synth/raw.mp4`."""
    truth = Speaker(synth / "speaker")
    t, m = truth.num_frames, truth.meta
    for name in ("ori_imgs", "parsing", "torso_imgs"):
        (out / name).mkdir(parents=True)
    for i, rgb in enumerate(iter_frames(synth / "raw.mp4")):  # process.py task 3: ffmpeg -q:v 1 frames
        cv2.imwrite(
            str(out / "ori_imgs" / f"{i}.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 98]
        )
    assert i + 1 == t
    for i in range(t):
        labels = truth.parsing(i)
        colour = np.full((*labels.shape, 3), 255, np.uint8)
        for name, bgr in PARSING_BGR.items():
            colour[labels == PARSING_LABELS[name]] = bgr
        cv2.imwrite(str(out / "parsing" / f"{i}.png"), colour)
        cv2.imwrite(str(out / "torso_imgs" / f"{i}.png"), cv2.cvtColor(truth.torso(i), cv2.COLOR_RGBA2BGRA))
    cv2.imwrite(str(out / "bc.jpg"), cv2.cvtColor(truth.background(), cv2.COLOR_RGB2BGR))
    audio = truth.audio()
    write_wav(out / "aud.wav", audio, m.sample_rate)
    rng = np.random.default_rng(0)
    hubert = rng.normal(size=(t, 2, FEAT_DIM)).astype(np.float32)
    deepspeech = rng.normal(size=(t - 1, 16, 29)).astype(np.float32)  # DeepSpeech often gives T - 1 windows
    np.save(out / "aud_hu.npy", hubert)
    np.save(out / "aud_ds.npy", deepspeech)
    au45 = 2.4 * np.asarray(truth.blink, np.float64) - 0.1  # OpenFace's intensity, out of [0, 2] at both ends
    with open(out / "au.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["frame", " face_id", " timestamp", " confidence", " success", " AU45_r"])
        for i in range(t):
            writer.writerow([i + 1, 0, f"{i / 25:.3f}", 0.98, 1, f"{au45[i]:.4f}"])
    track = tracker_result(truth)
    save_transforms(out, track["euler"], track["trans"], m.focal, m.width, m.height)
    return {**track, "au45": au45, "hubert": hubert, "deepspeech": deepspeech, "audio": audio,
            "split": int(t * 10 / 11)}  # fmt: skip


def rotation_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees [T] between rotations a, b [T, 3, 3]."""
    cos = (np.einsum("tij,tij->t", a, b) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from talkzoo.datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("ernerf_synth")
    synthesize(out, seconds=SECONDS, size=SIZE, seed=SEED, progress=False)
    return out


@pytest.fixture(scope="module")
def ernerf_dir(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("ernerf") / "obama"
    return folder, write_ernerf_folder(synth, folder)


@pytest.fixture(scope="module")
def imported(ernerf_dir: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imported") / "speaker"
    assert main(["import-ernerf", str(ernerf_dir[0]), str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def preprocessed(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from talkzoo.datamodules.preprocess import PreprocessConfig, preprocess

    out = tmp_path_factory.mktemp("preprocessed") / "speaker"
    preprocess(synth / "raw.mp4", out, PreprocessConfig(size=SIZE), progress=False, log=False)
    return out


def test_frontal_head_gets_the_identity_and_the_trackers_pixels() -> None:
    """transform_matrix of a tracker fit -> a pose that reprojects the tracker's own pixels in OpenCV axes."""
    from talkzoo.datamodules.importers.ernerf_layout import ernerf_to_pose

    rng = np.random.default_rng(1)
    euler = np.concatenate([np.zeros((1, 3)), rng.uniform(-0.4, 0.4, (4, 3))])
    trans = np.concatenate([[[0.0, 0.0, -7.0]], rng.uniform(-0.3, 0.3, (4, 3)) + [0, 0, -7]])  # tracker init z -7
    focal, cx, cy = 1100.0, 256.0, 256.0
    pose = ernerf_to_pose(transform_matrices(euler, trans).astype(np.float64))
    np.testing.assert_allclose(pose[0, :3, :3], np.eye(3), atol=1e-7)  # frontal: R = I
    np.testing.assert_allclose(pose[0, :3, 3], [0.0, 0.0, 0.7], atol=1e-6)  # in front of the camera, metres
    model_points = rng.normal(scale=0.8, size=(5, 30, 3))  # decimetres, the 3DMM's frame (y up, z out of the face)
    expected = tracker_projection(model_points, euler, trans, focal, cx, cy)
    head = model_points / 10.0 @ FLIP  # the format's head axes (y down, z into the face), metres
    cam = np.einsum("nij,npj->npi", pose[:, :3, :3], head) + pose[:, None, :3, 3]
    np.testing.assert_allclose(focal * cam[..., :2] / cam[..., 2:] + [cx, cy], expected, atol=1e-3)  # float32


def test_imported_speaker_validates(imported: Path) -> None:
    report = validate_speaker(imported)
    assert report.ok, report.problems


def test_pose_recovers_the_ground_truth(imported: Path, synth: Path, ernerf_dir: tuple) -> None:
    """R exactly (float32 JSON); t = the tracker's metres in the format's units: the synthetic origin (the format's
    own: half a cheek span behind the anchor) at the harmonic-mean depth `focal`."""
    got, truth, track = Speaker(imported), Speaker(synth / "speaker"), ernerf_dir[1]
    pose = np.asarray(got.pose, np.float64)
    errors = rotation_angles(pose[:, :3, :3], track["R"])
    assert errors.max() < 0.1, errors.max()
    assert rotation_angles(pose[:, :3, :3], np.broadcast_to(np.eye(3), pose[:, :3, :3].shape)).max() < 20  # ≈ I
    units = truth.meta.focal * np.mean(1.0 / track["t_synthetic_m"][:, 2])
    expected = units * track["t_m"]
    relative = np.linalg.norm(pose[:, :3, 3] - expected, axis=1) / np.linalg.norm(expected, axis=1)
    print(f"\nrotation error max {errors.max():.2e} deg; translation error mean {100 * relative.mean():.3f} % "
          f"max {100 * relative.max():.3f} %; units per metre {units:.1f}")  # fmt: skip
    assert relative.max() < 0.01


def test_canonical_landmarks_sit_in_the_head_frame(imported: Path, synth: Path, ernerf_dir: tuple) -> None:
    """The imported mesh is the true one, moved to the tracker's origin and scaled to the format's units. Unprojecting
    the face at the origin's depth (the old importer) put its centroid 26 % of a cheek span off here."""
    got, truth, track = Speaker(imported), Speaker(synth / "speaker"), ernerf_dir[1]
    units = truth.meta.focal * np.mean(1.0 / track["t_synthetic_m"][:, 2])
    scale = units * track["metres_per_unit"]  # synthetic units -> the imported speaker's
    origin = TRACKER_ORIGIN_M / track["metres_per_unit"]
    expected = scale * (np.asarray(truth.canonical, np.float64) - origin)
    canonical = np.asarray(got.canonical, np.float64)
    cheek = np.linalg.norm(expected[:, 50] - expected[:, 280], axis=-1).mean()
    centroid_error = np.linalg.norm(canonical[:, :468].mean(1) - expected[:, :468].mean(1), axis=-1) / cheek
    shape_error = (
        np.linalg.norm(
            (canonical - canonical.mean(1, keepdims=True)) - (expected - expected.mean(1, keepdims=True)), axis=-1
        )[:, :468].mean(1)
        / cheek
    )
    print(f"\ncanonical centroid error {100 * centroid_error.mean():.1f} % of the cheek span, "
          f"shape error {100 * shape_error.mean():.1f} %")  # fmt: skip
    assert centroid_error.mean() < 0.1 and shape_error.mean() < 0.1


def test_intrinsics_split_and_frames(imported: Path, synth: Path, ernerf_dir: tuple) -> None:
    got, truth = Speaker(imported), Speaker(synth / "speaker")
    assert (got.meta.focal, got.meta.cx, got.meta.cy) == pytest.approx((truth.meta.focal, truth.meta.cx, truth.meta.cy))
    assert (got.meta.width, got.meta.height, got.num_frames) == (truth.meta.width, truth.meta.height, truth.num_frames)
    assert got.meta.val_start == ernerf_dir[1]["split"]


def test_parsing_torso_and_background_carry_over(imported: Path, synth: Path) -> None:
    got, truth = Speaker(imported), Speaker(synth / "speaker")
    for i in range(got.num_frames):
        np.testing.assert_array_equal(got.parsing(i), truth.parsing(i))  # IoU 1 per class
        np.testing.assert_array_equal(got.torso(i)[..., 3], truth.torso(i)[..., 3])
    assert np.abs(got.background().astype(int) - truth.background()).mean() < 3  # one JPEG round trip


def test_blink_from_au45(imported: Path, synth: Path, ernerf_dir: tuple) -> None:
    blink = np.asarray(Speaker(imported).blink, np.float64)
    np.testing.assert_allclose(blink, np.clip(ernerf_dir[1]["au45"], 0, 2) / 2, atol=1e-4)
    truth = np.asarray(Speaker(synth / "speaker").blink, np.float64)
    assert np.corrcoef(blink, truth)[0, 1] > 0.99


def test_audio_and_features(imported: Path, ernerf_dir: tuple) -> None:
    from talkzoo.datamodules.importers.ernerf_layout import flatten_windows

    sp = Speaker(imported)
    np.testing.assert_allclose(sp.audio(), ernerf_dir[1]["audio"], atol=1.0 / 32767)
    values, info = sp.feature("hubert")
    assert info["rate_hz"] == 50 and values.shape == (2 * sp.num_frames, FEAT_DIM)
    np.testing.assert_allclose(values, ernerf_dir[1]["hubert"].reshape(-1, FEAT_DIM))
    ds, _ = sp.feature("deepspeech")
    np.testing.assert_allclose(ds[:2], ernerf_dir[1]["deepspeech"][0, 8:10])
    np.testing.assert_allclose(flatten_windows(ernerf_dir[1]["deepspeech"])[-2:], ds[-4:-2])  # last window, clamped
    assert "mel" in sp.feature_names()


def test_landmarks_recomputed_with_mediapipe(imported: Path, synth: Path) -> None:
    got, want = np.asarray(Speaker(imported).landmarks), np.asarray(Speaker(synth / "speaker").landmarks)
    iod = np.linalg.norm(want[:, 468, :2] - want[:, 473, :2], axis=-1)
    err = np.linalg.norm(got[..., :2] - want[..., :2], axis=-1).mean(axis=1) / iod
    assert err.mean() < 0.06


def test_imported_and_preprocessed_agree_on_pose(imported: Path, preprocessed: Path, ernerf_dir: tuple) -> None:
    """The same video through both pipelines. What each defines differently, removed as constants: preprocess's head
    frame is the speaker's mean head orientation (one rotation Q, docs/preprocessing.md "Pose ambiguity") and the
    importer keeps the tracker's origin (one head-frame offset o, which must come out as the tracker origin we put
    in). The units are not fitted: both put the format's origin at the harmonic-mean depth `focal`."""
    from talkzoo.datamodules.preprocess.evaluate import rotation_errors

    imp, pre = Speaker(imported), Speaker(preprocessed)
    assert pre.meta.provenance["crop"]["params"]["side"] == SIZE  # no crop: both see the same image geometry
    assert pre.meta.focal == imp.meta.focal
    pi, pp = np.asarray(imp.pose, np.float64), np.asarray(pre.pose, np.float64)
    rot_i, rot_p, t_i, t_p = pi[:, :3, :3], pp[:, :3, :3], pi[:, :3, 3], pp[:, :3, 3]
    angles = rotation_errors(rot_i, rot_p)  # after the constant Q
    offset = np.einsum("tji,tj->i", rot_p, t_i - t_p) / len(t_i)  # o in preprocess's head frame, least squares
    residual = t_i - t_p - np.einsum("tij,j->ti", rot_p, offset)
    relative = np.linalg.norm(residual, axis=1) / np.linalg.norm(t_p, axis=1)
    depth_ratio = t_i[:, 2].mean() / t_p[:, 2].mean()
    track = ernerf_dir[1]
    units = imp.meta.focal * np.mean(1.0 / track["t_synthetic_m"][:, 2])
    expected_offset = units * TRACKER_ORIGIN_M  # X_preprocess ≈ X_synthetic = X_tracker + origin (Q ≈ I)
    print(f"\nimported vs preprocessed: rotation mean {angles.mean():.2f} deg, p95 {np.percentile(angles, 95):.2f}, "
          f"max {angles.max():.2f}; translation mean {100 * relative.mean():.2f} %, "
          f"p95 {100 * np.percentile(relative, 95):.2f} %, max {100 * relative.max():.2f} %; "
          f"depth ratio {depth_ratio:.4f}; origin offset {np.round(offset, 2)} "
          f"(put in {np.round(expected_offset, 2)})")  # fmt: skip
    assert angles.mean() < 3.0 and np.percentile(angles, 95) < 6.0
    # preprocess's depth (from the face's image scale) wanders ~2 % rms at 96²; the import follows the truth to 0.2 %
    assert relative.mean() < 0.03 and np.percentile(relative, 95) < 0.06
    assert abs(depth_ratio - 1) < 0.03
    cheek = np.linalg.norm(np.asarray(imp.canonical)[:, 50] - np.asarray(imp.canonical)[:, 280], axis=-1).mean()
    assert np.linalg.norm(offset - expected_offset) < 0.15 * cheek


def test_moda_trains_on_imported_and_preprocessed(
    imported: Path, preprocessed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two MODA steps through the LightningCLI with both speakers, whose head-motion targets (talkzoo.zoo.head_motion,
    what MODA learns) are comparable: near-zero rotation vectors (the old 120°-off import gave ~2 rad) and the same
    depth units."""
    from talkzoo.zoo.head_motion import pose_to_head_motion

    motions = [pose_to_head_motion(np.asarray(Speaker(root).pose)) for root in (imported, preprocessed)]
    for motion in motions:
        assert np.degrees(np.linalg.norm(motion[:, :3], axis=1)).max() < 20
    assert abs(motions[0][:, 5].mean() / motions[1][:, 5].mean() - 1) < 0.03
    monkeypatch.chdir(tmp_path)
    configs = [ROOT / "configs" / "moda.yaml", ROOT / "configs" / "presets" / "moda_cpu.yaml",
               ROOT / "configs" / "trainer" / "cpu_smoke.yaml"]  # fmt: skip
    args = [arg for config in configs for arg in ("--config", str(config))]
    speakers = json.dumps([str(imported), str(preprocessed)])
    assert main(["fit", *args, "--data.speakers", speakers, "--trainer.default_root_dir", str(tmp_path / "runs")]) == 0
    checkpoints = sorted((tmp_path / "runs").glob("**/*.ckpt"))
    assert checkpoints
    assert torch.load(checkpoints[-1], map_location="cpu", weights_only=False)["global_step"] == 2


def test_bad_folders(tmp_path: Path, ernerf_dir: tuple, capsys: pytest.CaptureFixture[str]) -> None:
    def fails(src: Path, out: Path, expect: str) -> None:
        assert main(["import-ernerf", str(src), str(out), "--quiet"]) != 0
        lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("talkzoo import-ernerf")]
        assert len(lines) == 1 and expect in lines[0], lines
        assert not validate_speaker(out).ok

    def edited(name: str, edit: Callable[[dict], None]) -> Path:
        folder = tmp_path / name
        shutil.copytree(ernerf_dir[0], folder)
        data = json.loads((folder / "transforms_train.json").read_text())
        edit(data)
        (folder / "transforms_train.json").write_text(json.dumps(data))
        return folder

    fails(tmp_path / "missing", tmp_path / "o1", "no such folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(empty, tmp_path / "o2", "no transforms_train.json")
    broken = tmp_path / "broken"
    shutil.copytree(ernerf_dir[0], broken)
    (broken / "torso_imgs" / "5.png").unlink()
    fails(broken, tmp_path / "o3", "5.png")
    gappy = edited("gappy", lambda d: d.update(frames=[f for f in d["frames"] if f["img_id"] != 3]))
    fails(gappy, tmp_path / "o4", "img_ids")

    def scale_first(d: dict) -> None:
        d["frames"][0]["transform_matrix"] = (4 * np.asarray(d["frames"][0]["transform_matrix"])).tolist()

    fails(edited("scaled", scale_first), tmp_path / "o5", "not a rigid transform")

    def invert(d: dict) -> None:  # head -> camera matrices instead of process.py's camera -> head
        for f in d["frames"]:
            f["transform_matrix"] = np.linalg.inv(np.asarray(f["transform_matrix"])).tolist()

    fails(edited("inverted", invert), tmp_path / "o6", "behind the camera")


def test_blink_from_the_eyelids_without_au_csv(
    ernerf_dir: tuple, synth: Path, preprocessed: Path, tmp_path: Path
) -> None:
    """No au.csv: blink from the eyelids of the canonical landmarks, as preprocess does. At 96² the eyes are a few
    pixels tall, so both pipelines follow the true blink only to ρ ≈ 0.7; they must agree with each other."""
    folder = tmp_path / "no_au"
    shutil.copytree(ernerf_dir[0], folder)
    (folder / "au.csv").unlink()
    assert main(["import-ernerf", str(folder), str(tmp_path / "speaker"), "--quiet"]) == 0
    sp = Speaker(tmp_path / "speaker")
    assert sp.meta.provenance["arrays"]["params"]["blink"] == "eyelids"
    blink = np.asarray(sp.blink, np.float64)
    truth = np.asarray(Speaker(synth / "speaker").blink, np.float64)
    reference = np.asarray(Speaker(preprocessed).blink, np.float64)
    rho, rho_pre = np.corrcoef(blink, truth)[0, 1], np.corrcoef(reference, truth)[0, 1]
    print(f"\neyelid blink vs truth: rho {rho:.3f} (preprocess {rho_pre:.3f})")
    assert np.corrcoef(blink, reference)[0, 1] > 0.95
    assert rho > rho_pre - 0.05 and rho > 0.6

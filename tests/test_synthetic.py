"""The synthetic speaker (`talkzoo synth`): every speaker entry, exact geometry, audio-driven motion, MediaPipe."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from talkzoo.datamodules.media import probe_video, read_audio
from talkzoo.datamodules.speaker import ARRAYS, NUM_LANDMARKS, PARSING_LABELS, Speaker
from talkzoo.datamodules.synthetic import animate, clip_audio, synthesize
from talkzoo.datamodules.synthetic.camera import pose_matrix, rotation_matrix
from talkzoo.datamodules.synthetic.face_mesh import eye_loops, mouth_loop
from talkzoo.datamodules.synthetic.hard_render import REST_LIGHT, HardRenderer, Posed
from talkzoo.datamodules.synthetic.mesh_indices import EYES, LIP_POINTS
from talkzoo.datamodules.synthetic.portrait import build_portrait
from talkzoo.datamodules.synthetic.rasterize import Raster
from talkzoo.datamodules.synthetic.render import FrameParams, FrameTruth, Renderer
from talkzoo.datamodules.synthetic.scene import GROUP_EYE, GROUP_MOUTH
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


def test_without_truth_images_the_video_and_the_arrays_are_the_same(synthetic_output: Path, tmp_path: Path) -> None:
    """`talkzoo demo` synthesises without the speaker folder's images (budget `demo.truth_images: false`)."""
    from talkzoo.datamodules.media import iter_frames

    synthesize(tmp_path, seconds=SECONDS, size=SIZE, seed=0, progress=False, images=False)
    lean, full = Speaker(tmp_path / "speaker"), Speaker(synthetic_output / "speaker")
    for name in ARRAYS:
        np.testing.assert_array_equal(lean.array(name), full.array(name), err_msg=name)
    for folder in ("frames", "parsing", "torso"):
        assert not any((tmp_path / "speaker" / folder).glob("*")), folder
    assert lean.meta.provenance["synth"]["params"]["images"] is False
    pairs = zip(iter_frames(tmp_path / "raw.mp4"), iter_frames(synthetic_output / "raw.mp4"), strict=True)
    assert all(np.array_equal(a, b) for a, b in pairs)


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


# ---- the hard style: a textured 3-D head ------------------------------------------------------------------------
HARD_SIZE, HARD_SECONDS = 64, 2.0
HARD_T = int(round(HARD_SECONDS * FPS))


@pytest.fixture(scope="module")
def hard_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`talkzoo synth --style hard` output (through the CLI): 64², 2 s, seed 8 (its head turns ±24° in 4 s)."""
    from talkzoo.cli import main

    out = tmp_path_factory.mktemp("synthetic_hard")
    args = ["synth", str(out), "--seconds", str(HARD_SECONDS), "--size", str(HARD_SIZE), "--seed", "8"]
    assert main([*args, "--style", "hard"]) == 0
    return out


@pytest.fixture(scope="module")
def hard_renderer() -> HardRenderer:
    return HardRenderer(build_portrait(256))


def _hard_frame(
    renderer: HardRenderer, yaw_deg: float, pitch_deg: float = 0.0, face: np.ndarray | None = None
) -> tuple[FrameParams, FrameTruth, Posed, Raster, np.ndarray]:
    """(params, truth, posed, raster, image) of one hard frame at the rest translation, rest light."""
    pose = pose_matrix(rotation_matrix(np.deg2rad(yaw_deg), np.deg2rad(pitch_deg), 0.0), renderer.p.anchor)
    params = FrameParams(np.zeros(5) if face is None else face, pose, np.zeros(2))
    truth = renderer.ground_truth(params)
    image, _, raster = renderer.render_clean(params, truth, REST_LIGHT)
    return params, truth, renderer.pose_vertices(params, truth), raster, image


def test_hard_speaker_is_valid_with_exact_geometry(hard_output: Path) -> None:
    from talkzoo.cli import main

    assert main(["validate", str(hard_output / "speaker")]) == 0
    speaker = Speaker(hard_output / "speaker")
    assert speaker.meta.provenance["synth"]["params"]["style"] == "hard"
    for name, (shape, dtype) in ARRAYS.items():
        array = speaker.array(name)
        assert array.shape == (HARD_T, *shape) and array.dtype == np.dtype(dtype), name
    projected = _project(speaker, np.asarray(speaker.canonical))
    landmarks = np.asarray(speaker.landmarks, dtype=np.float64)
    np.testing.assert_allclose(projected[..., :2], landmarks[..., :2], atol=1e-3)
    info = probe_video(hard_output / "raw.mp4")
    assert (info.video_codec, info.num_frames, info.width) == ("h264", HARD_T, HARD_SIZE)
    background = speaker.background().astype(np.float64)
    assert background.std(axis=(0, 1)).mean() > 10  # a textured plate, not a flat colour


def test_hard_same_seed_is_identical(hard_output: Path, tmp_path: Path) -> None:
    synthesize(tmp_path, seconds=HARD_SECONDS, size=HARD_SIZE, seed=8, progress=False, style="hard")
    again, first = Speaker(tmp_path / "speaker"), Speaker(hard_output / "speaker")
    for name in ARRAYS:
        np.testing.assert_array_equal(again.array(name), first.array(name), err_msg=name)
    for index in (0, HARD_T - 1):  # the sensor noise is seeded by (seed, frame) too
        np.testing.assert_array_equal(again.frame(index), first.frame(index))
        np.testing.assert_array_equal(again.parsing(index), first.parsing(index))
    np.testing.assert_array_equal(again.background(), first.background())


def test_hard_parsing_and_torso_agree_with_the_frames(hard_output: Path) -> None:
    speaker = Speaker(hard_output / "speaker")
    plate = speaker.background().astype(np.float64)
    for index in (0, HARD_T // 2, HARD_T - 1):
        labels, frame = speaker.parsing(index), speaker.frame(index).astype(np.float64)
        assert set(np.unique(labels)) == set(PARSING_LABELS.values()), index
        inner_bg = cv2.erode((labels == 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        person = cv2.erode((labels > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        # background pixels are the plate plus sensor noise (σ ≈ 2.5) and JPEG; person pixels are not the plate
        assert np.abs(frame[inner_bg] - plate[inner_bg]).mean() < 6, index
        assert np.abs(frame[person] - plate[person]).mean() > 25, index
        torso = speaker.torso(index)
        body = (labels == PARSING_LABELS["neck"]) | (labels == PARSING_LABELS["torso"])
        assert ((torso[..., 3] > 0) == body).all()
        # the face's landmarks land on head pixels (a few on the jaw line may fall on the neck)
        lm = np.round(np.asarray(speaker.landmarks)[index, :468, :2]).astype(int).clip(0, HARD_SIZE - 1)
        assert (labels[lm[:, 1], lm[:, 0]] == PARSING_LABELS["head"]).mean() > 0.95


def test_hard_head_turns_out_of_plane() -> None:
    renderer = HardRenderer(build_portrait(SIZE))
    wave, frames = clip_audio(10.0)
    anim = animate(renderer, wave, frames, seed=0, style="hard")
    rot = anim.pose[:, :3, :3]
    yaw = np.degrees(np.arctan2(rot[:, 0, 2], rot[:, 2, 2]))
    pitch = np.degrees(np.arcsin(-rot[:, 1, 2]))
    assert yaw.min() < -20 and yaw.max() > 20 and yaw.max() <= 25.01 and yaw.min() >= -25.01
    assert pitch.min() < -10 and pitch.max() > 10
    assert anim.light is not None and np.degrees(np.arccos(np.clip(anim.light @ anim.light[0], -1, 1))).max() > 5
    easy = animate(Renderer(build_portrait(SIZE)), wave, frames, seed=0)
    np.testing.assert_array_equal(anim.face[:, :3], easy.face[:, :3])  # the same audio-driven mouth


def test_hard_turn_hides_the_far_side_of_the_face(hard_renderer: HardRenderer) -> None:
    """A 2-D warp never hides a landmark; a turned 3-D head hides the far side of its face behind the near one."""
    nose_x = {}
    hidden = {}
    for yaw in (-20.0, 0.0, 20.0):
        _, truth, posed, raster, _ = _hard_frame(hard_renderer, yaw)
        depth = hard_renderer.depth_buffer(posed, raster)
        pix = np.round(truth.landmarks[:468, :2]).astype(int)
        z = posed.camera[:468, 2]
        hidden[yaw] = depth[pix[:, 1], pix[:, 0]] < z - 0.03 * hard_renderer.p.size  # something well in front
        nose_x[yaw] = truth.landmarks[1, 0]
        xs = truth.landmarks[:468, 0]
        if yaw != 0:  # hidden points lie on the side the face turns toward (positive yaw: image left)
            side = np.sign(xs[hidden[yaw]] - nose_x[yaw])
            assert (side == -np.sign(yaw)).mean() > 0.8, yaw
    # measured: 0.4% (frontal: pixel rounding on the nose's steep sides), 3.0% / 3.6% of the 468 points at ±20°
    assert hidden[0.0].mean() < 0.01
    assert min(hidden[20.0].mean(), hidden[-20.0].mean()) > max(0.02, 4 * hidden[0.0].mean())


def test_hard_turn_is_seen_by_mediapipe_and_flips_when_mirrored(hard_renderer: HardRenderer) -> None:
    import mediapipe as mp

    rest = hard_renderer.p.landmarks[:468]

    def seen_yaw(image: np.ndarray) -> float:
        """Yaw (degrees) of the rotation that best maps the rest mesh onto MediaPipe's 3-D landmarks (Kabsch)."""
        with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
            result = mesh.process(np.ascontiguousarray(image))
        assert result.multi_face_landmarks, "no face found"
        size = image.shape[0]
        pts = np.array([[p.x * size, p.y * size, p.z * size] for p in result.multi_face_landmarks[0].landmark])[:468]
        a, b = pts - pts.mean(0), rest - rest.mean(0)
        u, _, vt = np.linalg.svd(a.T @ b)
        rot = u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))]) @ vt
        return float(np.degrees(np.arctan2(rot[0, 2], rot[2, 2])))

    image = _hard_frame(hard_renderer, 20.0)[-1]
    frontal = _hard_frame(hard_renderer, 0.0)[-1]
    # measured: +17.4° seen for +20°, −19.5° for its mirror image, 0.7° for the frontal frame
    assert 12 < seen_yaw(image) < 28
    assert -28 < seen_yaw(image[:, ::-1]) < -12
    assert abs(seen_yaw(frontal)) < 4
    assert np.abs(image.astype(int) - image[:, ::-1].astype(int)).mean() > 10


def test_hard_eyelids_cover_the_eyes_and_the_mouth_opens_onto_teeth(hard_renderer: HardRenderer) -> None:
    scene = hard_renderer.scene
    eye_parts, mouth_parts = scene.group == GROUP_EYE, scene.group == GROUP_MOUTH
    hw = hard_renderer.fields.half_width

    def share(face: np.ndarray, loops: tuple, parts: np.ndarray) -> tuple[float, int]:
        """(share of the pixels inside the rest-pose openings drawn by `parts`, pixel count) at a frontal pose."""
        _, truth, _, raster, _ = _hard_frame(hard_renderer, 0.0, face=face)
        mask = np.zeros(raster.triangle.shape, np.uint8)
        for loop in loops:
            cv2.fillPoly(mask, [np.round(truth.landmarks[list(loop), :2]).astype(np.int32)], 1)
        drawn = parts[np.maximum(raster.triangle, 0)] & raster.covered
        inside = mask > 0
        return float(drawn[inside].mean()), int((drawn & inside).sum())

    open_eyes, _ = share(np.zeros(5), eye_loops(), eye_parts)
    closed_eyes, _ = share(np.array([0, 0, 0, 1.0, 1.0]), eye_loops(), eye_parts)
    # measured 0.72 open (the lid line's own pixels are lid) and 0.0 closed: the lids' skin covers the eyeballs
    assert open_eyes > 0.5 and closed_eyes < 0.05
    _, closed_mouth = share(np.zeros(5), (mouth_loop(),), mouth_parts)
    _, open_mouth = share(np.array([0.4 * hw, 0.05 * hw, 0, 0, 0]), (mouth_loop(),), mouth_parts)
    assert open_mouth > 1.5 * closed_mouth > 0  # the teeth show at rest; opening reveals more of the mouth


def test_mediapipe_tracks_the_hard_face(tmp_path: Path) -> None:
    from talkzoo.datamodules.synthetic.tracking import track

    synthesize(tmp_path, seconds=4.0, size=256, seed=2, progress=False, style="hard")
    speaker = Speaker(tmp_path / "speaker")
    rot = np.asarray(speaker.pose, dtype=np.float64)[:, :3, :3]
    yaw = np.degrees(np.arctan2(rot[:, 0, 2], rot[:, 2, 2]))
    assert yaw.min() < -20 and yaw.max() > 20  # the clip really turns (seed 2: ±24°)
    truth = np.asarray(speaker.landmarks, dtype=np.float64)[..., :2]
    detected, found = track(tmp_path / "raw.mp4")
    error = np.linalg.norm(detected - truth, axis=2)[found]
    # measured (256², 4 s, seed 2, crf 23): 100% found, median 1.1 px, lips mean 1.7 px
    assert found.mean() >= 0.95
    assert np.median(error) < 1.5
    assert error[:, list(LIP_POINTS)].mean() < 3.0

"""`talkzoo preprocess`: accuracy against the synthetic ground truth, the format contract, bad inputs, resuming.

One module-scoped synthetic speaker (192², 5 s, seed 1) is preprocessed once; the bars below were set from
measurements of this exact configuration (measured: lips 2.58 % IOD, all 2.75 %, rotation 1.36° mean / 2.30° p95,
blink r 0.94, shoulders 1.07 % of the size, parsing IoU 0.99 / 0.98 / 0.80 / 0.96); docs/preprocessing.md lists
them next to the 512² / 20 s numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from talkzoo.cli import main
from talkzoo.datamodules.media import iter_frames, read_audio, write_video
from talkzoo.datamodules.preprocess import PreprocessConfig, PreprocessError, preprocess
from talkzoo.datamodules.preprocess import steps as steps_module
from talkzoo.datamodules.preprocess.evaluate import compare_to_truth, project, rotation_errors
from talkzoo.datamodules.preprocess.landmarks import lag_frames, smooth
from talkzoo.datamodules.preprocess.pose import umeyama
from talkzoo.datamodules.speaker import Speaker
from talkzoo.datamodules.validate import validate_speaker

SIZE, SECONDS = 192, 5.0


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from talkzoo.datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("pre_synth")
    synthesize(out, seconds=SECONDS, size=SIZE, seed=1, progress=False)
    return out


@pytest.fixture(scope="module")
def processed(synth: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pre_out") / "speaker"
    preprocess(synth / "raw.mp4", out, PreprocessConfig(size=SIZE), progress=False, log=False)
    return out


@pytest.fixture(scope="module")
def report(processed: Path, synth: Path) -> dict[str, float]:
    return compare_to_truth(processed, synth / "speaker")


@pytest.fixture(scope="module")
def raw_clip(synth: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The synthetic video's frames (uint8 [S, S, 3] each) and audio (float32 [N] at 16 kHz)."""
    return list(iter_frames(synth / "raw.mp4")), read_audio(synth / "raw.mp4", 16000)


# ---- accuracy (bars from measurement at 192² / 5 s; targets of the issue in the comments) ------------------------
def test_landmark_error_vs_truth(report: dict[str, float]) -> None:
    assert report["lip_error_pct_iod"] < 3.5  # target ≤ 3 % at 512²
    assert report["landmark_error_pct_iod"] < 4.0
    assert report["mouth_opening_corr"] > 0.85


def test_smoothing_removes_jitter_without_lag(report: dict[str, float], processed: Path) -> None:
    assert report["mouth_opening_lag_frames"] == 0
    params = Speaker(processed).meta.provenance["landmarks"]["params"]
    assert params["jitter_smoothed_px"] < params["jitter_raw_px"]


def test_head_rotation_error(report: dict[str, float]) -> None:
    assert report["rotation_error_deg_mean"] < 2.5  # target ≤ 3°
    assert report["rotation_error_deg_p95"] < 4.0


def test_blink_correlation(report: dict[str, float]) -> None:
    assert report["blink_corr"] > 0.8


def test_shoulders_match_the_truth_in_the_image(report: dict[str, float]) -> None:
    assert report["shoulder_error_pct_size"] < 2.0


def test_parsing_iou(report: dict[str, float]) -> None:
    assert report["parsing_iou_background"] > 0.97
    assert report["parsing_iou_head"] > 0.95
    assert report["parsing_iou_torso"] > 0.93
    assert report["parsing_iou_neck"] > 0.7


# ---- the format contract ---------------------------------------------------------------------------------------
def test_output_validates_and_has_the_documented_camera(processed: Path) -> None:
    report = validate_speaker(processed)
    assert report.ok, report.problems
    speaker = Speaker(processed)
    assert speaker.meta.focal == pytest.approx(2.5 * SIZE)
    assert speaker.meta.num_frames == int(SECONDS * 25)
    assert not (processed / ".work").exists()
    pose = np.asarray(speaker.pose)
    # translation consistent with the pinhole: the head origin projects near the face's centre
    uv = speaker.meta.focal * pose[:, :2, 3] / pose[:, 2:3, 3] + speaker.meta.cx
    centre = np.asarray(speaker.landmarks)[:, [50, 280, 168], :2].mean(axis=1)
    assert np.abs(uv - centre).max() < 0.05 * SIZE
    # canonical landmarks put back through the pose and the pinhole land on the image landmarks
    m = speaker.meta
    back = project(np.asarray(speaker.canonical, np.float64), pose, m.focal, m.cx, m.cy)
    assert np.abs(back - np.asarray(speaker.landmarks)[..., :2]).max() < 0.05


def test_torso_layer_holds_neck_torso_and_the_neck_continuation(processed: Path) -> None:
    speaker = Speaker(processed)
    labels, alpha = speaker.parsing(10), speaker.torso(10)[..., 3]
    assert (alpha[labels >= 2] == 255).all() and (alpha[labels == 0] == 0).all()
    assert 0 < (alpha[labels == 1] > 0).sum() < 0.2 * (labels == 1).sum()  # under the chin only


def test_loads_in_the_datamodules(processed: Path) -> None:
    from talkzoo.datamodules.frames import FrameDataModule
    from talkzoo.datamodules.sequence import MotionDataModule

    motion = MotionDataModule([str(processed)], window=25, stride=25, jitter=0, batch_size=2)
    motion.setup("fit")
    batch = next(iter(motion.train_dataloader()))
    assert batch["audio"].shape[:2] == (2, 25)
    frames = FrameDataModule(str(processed), batch_size=1)
    frames.setup("fit")
    item = next(iter(frames.train_dataloader()))
    assert item["image"].shape[-2:] == (SIZE, SIZE)


# ---- bad inputs: one line, non-zero exit, nothing that validates -------------------------------------------------
def _fails(capsys: pytest.CaptureFixture[str], video: Path, out: Path, expect: str) -> str:
    code = main(["preprocess", str(video), str(out), "--size", str(SIZE), "--quiet"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("talkzoo preprocess")]
    assert code != 0
    assert len(err) == 1, err
    assert expect in err[0].replace(str(video), "VIDEO").replace(str(out), "OUT"), err
    assert not validate_speaker(out).ok
    return err[0]


def test_not_a_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello, I am not a video")
    _fails(capsys, bad, tmp_path / "out", "not a readable")
    assert not (tmp_path / "out").exists()


def test_truncated_video(synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = (synth / "raw.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    _fails(capsys, cut, tmp_path / "out", "truncated")


def test_stream_ending_early(raw_clip: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from talkzoo.datamodules.preprocess.decode import iter_resampled

    video = write_video(tmp_path / "clip.mp4", raw_clip[0][:75], fps=25, audio=raw_clip[1][: 3 * 16000])
    frames = list(iter_resampled(video, 25.0, 76, lambda f: f.pts))  # one frame short of the claim: padded
    assert len(frames) == 76 and frames[-1] == frames[-2] and len(set(frames)) == 75
    with pytest.raises(PreprocessError, match="truncated"):
        list(iter_resampled(video, 25.0, 100, lambda f: f.pts))  # 1 s missing


def test_no_audio_stream(raw_clip: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = write_video(tmp_path / "mute.mp4", raw_clip[0][:75], fps=25)
    _fails(capsys, video, tmp_path / "out", "no audio stream")


def test_no_face(raw_clip: tuple, synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plate = Speaker(synth / "speaker").background()
    video = write_video(tmp_path / "empty.mp4", [plate] * 75, fps=25, audio=raw_clip[1][: 3 * 16000])
    _fails(capsys, video, tmp_path / "out", "no face")


def test_face_lost_for_long(raw_clip: tuple, synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames, wave = raw_clip
    plate = Speaker(synth / "speaker").background()
    clip = frames[:25] + [plate] * 75 + frames[25:50]  # 3 s without the face
    video = write_video(tmp_path / "lost.mp4", clip, fps=25, audio=np.resize(wave, len(clip) * 640))
    line = _fails(capsys, video, tmp_path / "out", "face is lost for")
    assert " s " in line and "limit" in line


def test_too_short(raw_clip: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = write_video(tmp_path / "short.mp4", raw_clip[0][:25], fps=25, audio=raw_clip[1][:16000])
    _fails(capsys, video, tmp_path / "out", "shorter than the minimum")


def test_audio_video_mismatch(raw_clip: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames, wave = raw_clip
    video = write_video(tmp_path / "mismatch.mp4", frames[:75], fps=25, audio=np.resize(wave, 6 * 16000))
    _fails(capsys, video, tmp_path / "out", "audio is")


def test_several_faces_keeps_the_largest(raw_clip: tuple, tmp_path: Path) -> None:
    import cv2

    frames, wave = raw_clip
    small = [cv2.resize(f, (SIZE // 2, SIZE // 2), interpolation=cv2.INTER_AREA) for f in frames[:75]]
    pad = [np.vstack([s, np.zeros_like(s)]) for s in small]
    clip = [np.hstack([f, p]) for f, p in zip(frames[:75], pad, strict=True)]  # big face left, small face right
    video = write_video(tmp_path / "two.mp4", clip, fps=25, audio=wave[: 3 * 16000])
    result = preprocess(video, tmp_path / "out", PreprocessConfig(size=SIZE), progress=False, log=False)
    assert any("several faces" in note for note in result.notes)
    speaker = Speaker(tmp_path / "out")
    crop = speaker.meta.provenance["crop"]["params"]
    assert crop["x0"] + crop["side"] / 2 < SIZE  # the crop is centred on the big face (left half)
    assert validate_speaker(tmp_path / "out").ok


def test_other_frame_and_sample_rates_are_normalised(raw_clip: tuple, tmp_path: Path) -> None:
    from talkzoo.datamodules.preprocess.decode import iter_resampled

    frames, wave = raw_clip
    source = frames[:90]  # shown at 30 fps: 3 s
    audio = np.interp(np.arange(3 * 44100) / 44100, np.arange(len(wave)) / 16000, wave).astype(np.float32)
    video = write_video(tmp_path / "ntsc.mp4", source, fps=30, audio=audio, sample_rate=44100)
    picked = list(iter_resampled(video, 25.0, 75, lambda f: f.pts))
    assert len(picked) == 75 and len(set(picked)) == 75  # 30 -> 25 fps drops frames, never repeats one
    out = tmp_path / "out"
    preprocess(video, out, PreprocessConfig(size=SIZE), progress=False, log=False)
    speaker = Speaker(out)
    assert speaker.num_frames == 75 and speaker.meta.fps == 25
    assert len(speaker.audio()) == 3 * 16000
    assert validate_speaker(out).ok


def test_the_person_matte_runs_in_one_thread_of_its_own_in_frame_order(
    raw_clip: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SelfieSegmentation's graph wants its frames in order from one thread; it runs beside FaceMesh (frame_pass)."""
    import threading

    from talkzoo.datamodules.preprocess.tracking import FrameAnalyzer

    frames, wave = raw_clip
    video = write_video(tmp_path / "clip.mp4", frames[:75], fps=25, audio=wave[: 3 * 16000])
    calls: list[tuple[int, float]] = []  # (thread, frame checksum) per matte, in call order
    meshed: list[float] = []  # the same checksum, per FaceMesh call (the caller's thread, in frame order)
    person, landmarks = FrameAnalyzer.person, FrameAnalyzer.landmarks

    def recording_person(self: FrameAnalyzer, rgb: np.ndarray) -> np.ndarray:
        calls.append((threading.get_ident(), float(rgb.astype(np.float64).mean())))
        return person(self, rgb)

    def recording_landmarks(self: FrameAnalyzer, rgb: np.ndarray) -> np.ndarray | None:
        meshed.append(float(rgb.astype(np.float64).mean()))
        return landmarks(self, rgb)

    monkeypatch.setattr(FrameAnalyzer, "person", recording_person)
    monkeypatch.setattr(FrameAnalyzer, "landmarks", recording_landmarks)
    preprocess(video, tmp_path / "out", PreprocessConfig(size=SIZE), progress=False, log=False)
    threads = {thread for thread, _ in calls}
    assert len(calls) == 75 and len(threads) == 1 and threading.get_ident() not in threads
    assert [checksum for _, checksum in calls] == meshed  # at 192² both models see the same frame, in order
    assert validate_speaker(tmp_path / "out").ok


def _write_webm(path: Path, frames: list[np.ndarray], fps: int, stereo: np.ndarray) -> Path:
    """VP8 + Opus (48 kHz stereo float32 [2, N]) in a webm container: no per-stream durations in the header."""
    import av

    with av.open(str(path), "w", format="webm") as container:
        video = container.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        audio = container.add_stream("libopus", rate=48000, layout="stereo")
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        for k in range(0, stereo.shape[1], 960):
            chunk = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(stereo[:, k : k + 960]), format="fltp", layout="stereo"
            )
            chunk.sample_rate, chunk.pts = 48000, k
            container.mux(audio.encode(chunk))
        container.mux(audio.encode(None))
    return path


def test_webm_with_stereo_audio_longer_than_the_video(raw_clip: tuple, tmp_path: Path) -> None:
    frames, wave = raw_clip
    audio = np.interp(np.arange(int(3.3 * 48000)) / 48000, np.arange(len(wave)) / 16000, wave).astype(np.float32)
    video = _write_webm(tmp_path / "talk.webm", frames[:75], 25, np.stack([audio, 0.5 * audio]))
    out = tmp_path / "out"
    preprocess(video, out, PreprocessConfig(size=SIZE), progress=False, log=False)
    assert Speaker(out).num_frames == 75  # from the video stream, not the 3.3 s container duration
    assert validate_speaker(out).ok


# ---- resumable ---------------------------------------------------------------------------------------------------
def test_killed_run_resumes(raw_clip: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames, wave = raw_clip
    video = write_video(tmp_path / "clip.mp4", frames[:75], fps=25, audio=wave[: 3 * 16000])
    out = tmp_path / "out"

    def killed(run: steps_module.Run) -> dict:
        raise KeyboardInterrupt

    monkeypatch.setitem(steps_module.STEPS, "pose", killed)
    code = main(["preprocess", str(video), str(out), "--size", str(SIZE), "--quiet"])
    assert code == 130
    assert not validate_speaker(out).ok  # pose pending: the folder does not validate
    assert (out / "frames").is_dir() and Speaker(out).meta.provenance["frames"]["done"]
    monkeypatch.undo()
    result = preprocess(video, out, PreprocessConfig(size=SIZE), progress=False, log=False)
    assert result.skipped == ["audio", "frames", "landmarks"]
    assert result.ran[0] == "pose"
    assert validate_speaker(out).ok
    again = preprocess(video, out, PreprocessConfig(size=SIZE), progress=False, log=False)
    assert again.ran == []
    with pytest.raises(PreprocessError, match="other settings"):
        preprocess(video, out, PreprocessConfig(size=SIZE + 64), progress=False, log=False)


def test_sigkill_during_the_frame_pass_resumes(raw_clip: tuple, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    frames, wave = raw_clip
    video = write_video(tmp_path / "clip.mp4", frames[:100], fps=25, audio=wave[: 4 * 16000])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "talkzoo.cli", "preprocess", str(video), str(out), "--size", str(SIZE), "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        meta = out / "speaker.json"
        if meta.is_file() and json.loads(meta.read_text())["provenance"]["audio"]["done"]:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    provenance = json.loads((out / "speaker.json").read_text())["provenance"]  # still valid JSON: atomic writes
    assert provenance["audio"]["done"] and not provenance["features"]["done"]
    assert not validate_speaker(out).ok
    result = preprocess(video, out, PreprocessConfig(size=SIZE), progress=False, log=False)
    assert "audio" in result.skipped and "features" in result.ran
    assert validate_speaker(out).ok


# ---- numerics of the building blocks -------------------------------------------------------------------------------
def test_umeyama_recovers_a_similarity() -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_rotvec([0.2, -0.3, 0.1]).as_matrix()
    dst = 1.7 * src @ rot.T + np.array([3.0, -2.0, 5.0])
    s, r, q = umeyama(src, dst[None])
    assert s[0] == pytest.approx(1.7)
    np.testing.assert_allclose(r[0], rot, atol=1e-9)
    np.testing.assert_allclose(q[0], [3.0, -2.0, 5.0], atol=1e-9)
    offset = Rotation.from_rotvec([0.0, 0.5, 0.0]).as_matrix()
    rots = Rotation.from_rotvec(rng.normal(scale=0.2, size=(20, 3))).as_matrix()
    assert rotation_errors(rots @ offset, rots).max() < 1e-4  # a constant offset is not an error


def test_smoothing_is_zero_lag() -> None:
    t = np.arange(200)
    signal = np.sin(2 * np.pi * t / 12.0)
    noisy = signal + np.random.default_rng(0).normal(scale=0.1, size=t.shape)
    smoothed = smooth(noisy[:, None], 5)[:, 0]
    assert lag_frames(signal, smoothed) == 0
    assert np.abs(smoothed - signal).mean() < np.abs(noisy - signal).mean()


def test_provenance_is_recorded(processed: Path) -> None:
    provenance = json.loads((processed / "speaker.json").read_text())["provenance"]
    assert all(record["done"] for record in provenance.values())
    assert provenance["frames"]["versions"]["mediapipe"]
    assert provenance["source"]["params"]["config"]["size"] == SIZE


def test_rerun_with_another_feature_only_reextracts(processed: Path, tmp_path: Path, synth: Path) -> None:
    from talkzoo.zoo.audio import build_encoder

    folder = tmp_path / "tiny_hubert"  # a local save_pretrained folder: the "weights available" path
    build_encoder("hubert", random_init=True, size="tiny", cache=False).model.save_pretrained(folder)
    copy = tmp_path / "copy"
    shutil.copytree(processed, copy)
    config = PreprocessConfig(size=SIZE, features=("mel", "hubert", "wav2vec2"), models={"hubert": str(folder)})
    result = preprocess(synth / "raw.mp4", copy, config, progress=False, log=False)
    assert result.ran == ["features"]
    written = Speaker(copy).meta.provenance["features"]["params"]["written"]
    assert {"mel", "hubert"} <= set(written)
    values, info = Speaker(copy).feature("hubert")
    assert info["rate_hz"] == 50 and values.shape[1] == info["dim"]
    if "wav2vec2" not in written:  # default weights not in the offline cache: skipped with a note, still valid
        assert any("wav2vec2" in note for note in result.notes)
    assert validate_speaker(copy).ok

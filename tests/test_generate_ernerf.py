"""`talkzoo generate --method ernerf`: full portrait and head-only videos from new audio, both motion sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_ernerf_torso import fit_tiny_head  # noqa: E402  (tests/ is on sys.path under pytest)

from talkzoo.cli import main
from talkzoo.datamodules.media import probe_video
from talkzoo.pipelines.ernerf_motion import fit_blink_calibration, mirror_indices, moda_blink, training_motion
from talkzoo.zoo.errors import UserError

FPS = 25.0
ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "trainer" / "cpu_smoke.yaml"
SIZE = 32


@pytest.fixture(scope="module")
def runs(tiny_speaker: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """<runs>/ernerf_head and <runs>/ernerf_torso (2 steps each, SIZE²) and <runs>/moda (2 steps)."""
    root = tmp_path_factory.mktemp("generate_runs")
    head = fit_tiny_head(tiny_speaker, root)
    torso = [
        "fit", "--config", str(ROOT / "configs" / "ernerf_torso.yaml"),
        "--config", str(ROOT / "configs" / "presets" / "ernerf_torso_cpu.yaml"), "--config", str(SMOKE),
        "--trainer.default_root_dir", str(root / "ernerf_torso"), "--model.init_args.head_checkpoint", str(head),
        "--data.init_args.speaker", str(tiny_speaker), "--data.init_args.size", str(SIZE),
    ]  # fmt: skip
    assert main(torso) == 0
    moda = [
        "fit", "--config", str(ROOT / "configs" / "moda.yaml"),
        "--config", str(ROOT / "configs" / "presets" / "moda_cpu.yaml"), "--config", str(SMOKE),
        "--trainer.default_root_dir", str(root / "moda"), "--data.init_args.speakers", f'["{tiny_speaker}"]',
    ]  # fmt: skip
    assert main(moda) == 0
    return root


@pytest.fixture(scope="module")
def audio(tiny_speaker: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.5 s of the speaker's speech resampled to 22.05 kHz (not the training rate) as a wav."""
    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.zoo.audio.resample import to_mono_16k

    wave = Speaker(tiny_speaker).audio()[8000:16000]
    path = tmp_path_factory.mktemp("audio") / "clip.wav"
    up = np.interp(np.arange(int(len(wave) * 22050 / 16000)) * 16000 / 22050, np.arange(len(wave)), wave)
    sf.write(path, up.astype(np.float32), 22050)
    assert abs(len(to_mono_16k(up, 22050)) - len(wave)) <= 2
    return path


def _check_video(path: Path, audio: Path) -> None:
    info = probe_video(path)
    seconds = sf.info(str(audio)).duration
    assert info.has_audio and info.audio_rate == 16000
    assert abs(info.num_frames - seconds * FPS) <= 1.0, (info.num_frames, seconds)
    assert abs(info.duration_s - seconds) <= 1.0 / FPS + 1e-6
    assert (info.width, info.height) == (SIZE, SIZE)


def test_full_portrait_along_the_training_path(runs: Path, tiny_speaker: Path, audio: Path, tmp_path: Path) -> None:
    from talkzoo.pipelines.generate_ernerf import generate_ernerf

    out = generate_ernerf(tiny_speaker, audio, tmp_path / "portrait.mp4", run_dir=runs, progress=False, chunk=300)
    _check_video(out, audio)


def test_head_only_with_moda_motion_through_the_cli(
    runs: Path, tiny_speaker: Path, audio: Path, tmp_path: Path
) -> None:
    out = tmp_path / "moda.mp4"
    args = [
        "generate", "--method", "ernerf", "--speaker", str(tiny_speaker), "--audio", str(audio), "--out", str(out),
        "--head", str(runs / "ernerf_head" / "checkpoints" / "last.ckpt"),
        "--moda", str(runs / "moda" / "checkpoints" / "last.ckpt"), "--quiet",
    ]  # fmt: skip
    assert main(args) == 0
    _check_video(out, audio)


def test_bad_checkpoints_are_user_errors(runs: Path, tiny_speaker: Path, audio: Path, tmp_path: Path) -> None:
    from talkzoo.pipelines.generate_ernerf import generate_ernerf

    with pytest.raises(UserError, match="configs/ernerf_head.yaml"):
        generate_ernerf(tiny_speaker, audio, tmp_path / "o.mp4", head_ckpt=tmp_path / "missing.ckpt")
    with pytest.raises(UserError, match="torso"):
        generate_ernerf(tiny_speaker, audio, tmp_path / "o.mp4", head_ckpt=runs / "ernerf_head" / "checkpoints" /
                        "last.ckpt", torso_ckpt=tmp_path / "missing.ckpt")  # fmt: skip
    garbage = tmp_path / "checkpoints" / "garbage.ckpt"
    garbage.parent.mkdir()
    garbage.write_bytes(b"not a checkpoint")
    (tmp_path / "config.yaml").write_text((runs / "ernerf_head" / "lightning_logs" / "version_0" / "config.yaml")
                                          .read_text())  # fmt: skip
    with pytest.raises(UserError, match="garbage.ckpt"):
        generate_ernerf(tiny_speaker, audio, tmp_path / "o.mp4", head_ckpt=garbage)
    with pytest.raises(UserError, match="MODA"):
        generate_ernerf(tiny_speaker, audio, tmp_path / "o.mp4", run_dir=runs, moda_ckpt=tmp_path / "m.ckpt")
    assert main(["generate", "--method", "ernerf", "--speaker", str(tiny_speaker), "--audio", str(audio),
                 "--out", str(tmp_path / "o.mp4"), "--head", str(tmp_path / "missing.ckpt")]) == 1  # fmt: skip


def test_motion_sources() -> None:
    assert mirror_indices(3, 8).tolist() == [0, 1, 2, 1, 0, 1, 2, 1]
    poses = np.tile(np.eye(4, dtype=np.float32), (5, 1, 1))
    poses[:, 0, 3] = np.arange(5) * 10.0
    blink = np.linspace(0, 1, 5).astype(np.float32)
    path, b = training_motion(poses, blink, np.array([1, 2, 3]), 6, smooth=0.0)
    assert path[:, 0, 3].tolist() == [10, 20, 30, 20, 10, 20]
    assert b.tolist() == pytest.approx([0.25, 0.5, 0.75, 0.5, 0.25, 0.5])
    smoothed, _ = training_motion(poses, blink, np.array([1, 2, 3]), 6, smooth=1.0)
    assert np.abs(np.diff(smoothed[:, 0, 3])).max() < 10.0  # the path is smoother than the raw ping-pong
    # blink calibration: a lid gap of 4 is open (0), 0 is closed (1), learnt from the training frames
    a, c = fit_blink_calibration(np.array([4.0, 3.0, 0.0, 4.0]), np.array([0.0, 0.25, 1.0, 0.0]))
    assert a == pytest.approx(-0.25) and c == pytest.approx(1.0)
    canonical = np.zeros((4, 478, 3), np.float32)
    for t, gap in enumerate([4.0, 3.0, 0.0, 4.0]):
        canonical[t, [374, 145], 1] = gap  # lower lids below the upper lids (at 0)
    from talkzoo.zoo.face_indices import EYE_INDICES

    eyes = canonical[:, list(EYE_INDICES)][[2, 0]]  # closed, then open
    eyes = torch.from_numpy(eyes).numpy()
    assert moda_blink(eyes, canonical, np.array([0.0, 0.25, 1.0, 0.0])).tolist() == pytest.approx([1.0, 0.0])

"""`talkzoo generate --method moda`: each recipe fits 2 steps through `talkzoo fit` (CPU presets) into one run
directory, then audio → mp4 with the audio track, duration = audio ± 1 frame."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from talkzoo.cli import main
from talkzoo.datamodules.media import probe_video
from talkzoo.datamodules.speaker import Speaker
from talkzoo.pipelines.generate_moda import generate_moda
from talkzoo.zoo.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
SMOKE = CONFIGS / "trainer" / "cpu_smoke.yaml"
RECIPES = {
    "moda": ("moda.yaml", "moda_cpu.yaml", "--data.speakers"),
    "faconet": ("faconet.yaml", "faconet_cpu.yaml", "--data.speakers"),
    "renderer": ("portrait_renderer.yaml", "portrait_renderer_cpu.yaml", "--data.speaker"),
}


@pytest.fixture(scope="module")
def run_dir(tiny_speaker: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR/{moda,faconet,renderer}/checkpoints/last.ckpt, each recipe + its CPU preset fitted for 2 steps."""
    root = tmp_path_factory.mktemp("moda_runs")
    for stage, (recipe, preset, speaker_flag) in RECIPES.items():
        value = json.dumps([str(tiny_speaker)]) if speaker_flag.endswith("speakers") else str(tiny_speaker)
        args = ["fit", "--config", str(CONFIGS / recipe), "--config", str(CONFIGS / "presets" / preset)]
        args += ["--config", str(SMOKE), speaker_flag, value, "--trainer.default_root_dir", str(root / stage)]
        assert main(args) == 0, stage
    return root


def test_each_recipe_fits_two_steps(run_dir: Path) -> None:
    for stage in RECIPES:
        state = torch.load(run_dir / stage / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
        assert state["global_step"] == 2, stage
    renderer = torch.load(run_dir / "renderer" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert renderer["portrait_speaker"]["reference"].shape == (64, 64, 3)


def test_generate_writes_video_with_audio(run_dir: Path, tiny_speaker: Path, tmp_path: Path) -> None:
    out = tmp_path / "moda.mp4"
    audio = tiny_speaker / "audio.wav"
    argv = ["--speaker", str(tiny_speaker), "--audio", str(audio), "--out", str(out), "--run-dir", str(run_dir)]
    assert main(["generate", "--method", "moda", *argv, "--chunk", "7", "--seed", "3"]) == 0
    info = probe_video(out)
    meta = Speaker(tiny_speaker).meta
    duration = len(Speaker(tiny_speaker).audio()) / meta.sample_rate
    assert (info.width, info.height) == (64, 64)
    assert abs(info.num_frames - round(duration * meta.fps)) <= 1
    assert abs(info.duration_s - duration) <= 1.0 / meta.fps + 1e-3
    assert info.has_audio and abs(info.audio_duration_s - duration) < 0.1


def test_generate_python_api_and_explicit_checkpoints(run_dir: Path, tiny_speaker: Path, tmp_path: Path) -> None:
    ckpt = {stage: run_dir / stage / "checkpoints" / "last.ckpt" for stage in RECIPES}
    out = generate_moda(tiny_speaker, tiny_speaker / "audio.wav", tmp_path / "a.mp4", progress=False, **ckpt)
    assert out.is_file() and probe_video(out).has_audio


def test_missing_checkpoint_is_a_user_error(run_dir: Path, tiny_speaker: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="renderer checkpoint not found"):
        generate_moda(tiny_speaker, tiny_speaker / "audio.wav", tmp_path / "b.mp4", run_dir=run_dir,
                      renderer=tmp_path / "none.ckpt")  # fmt: skip
    with pytest.raises(UserError, match="--run-dir"):
        generate_moda(tiny_speaker, tiny_speaker / "audio.wav", tmp_path / "b.mp4")
    wrong = run_dir / "faconet" / "checkpoints" / "last.ckpt"
    with pytest.raises(UserError, match="not a MODA checkpoint"):
        generate_moda(tiny_speaker, tiny_speaker / "audio.wav", tmp_path / "b.mp4", run_dir=run_dir, moda=wrong)

"""MODA LightningModule: the recipes (CPU, DDP on 2 processes, body swap by YAML), checkpointed speaker statistics,
losses, sliding-window prediction, and the waveform (wav2vec2) encoder path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from talkzoo.datamodules.sequence import MotionDataModule
from talkzoo.lightning_modules.moda import MODA
from talkzoo.lightning_modules.run_loading import load_run_module
from talkzoo.lightning_modules.speaker_module import SPEAKERS_KEY
from talkzoo.pipelines.train import recipe_config
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.moda import DualAttention, MelConvEncoder, RecurrentBody, Wav2VecEncoder

ROOT = Path(__file__).resolve().parents[1]
RECIPES = [ROOT / "configs" / "moda.yaml", ROOT / "configs" / "moda_lstm.yaml"]
SMOKE = ROOT / "configs" / "trainer" / "cpu_smoke.yaml"
DDP = ROOT / "configs" / "trainer" / "ddp_cpu.yaml"
H = 16


def _talkzoo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline"}
    return subprocess.run(
        [sys.executable, "-m", "talkzoo.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=400
    )


def _small_args() -> list[str]:
    """Small widths for fast CLI runs (the recipes' defaults are the paper's)."""
    return [
        "--model.init_args.hidden", str(H), "--model.init_args.audio_encoder.init_args.hidden", str(H),
        "--model.init_args.body.init_args.hidden", str(H), "--data.init_args.window", "40",
    ]  # fmt: skip


def test_recipes_differ_only_in_the_temporal_body_and_run_folder() -> None:
    dual, lstm = (recipe_config(str(p)).as_dict() for p in RECIPES)
    assert dual["model"]["init_args"].pop("body")["class_path"] == "talkzoo.zoo.moda.DualAttention"
    assert lstm["model"]["init_args"].pop("body")["class_path"] == "talkzoo.zoo.moda.RecurrentBody"
    assert (dual["trainer"].pop("default_root_dir"), lstm["trainer"].pop("default_root_dir")) == (
        "runs/moda",
        "runs/moda_lstm",
    )
    assert dual == lstm


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_recipe_fits_with_ddp_on_two_cpu_processes_and_reloads(recipe: Path, workdir: Path) -> None:
    result = _talkzoo("fit", "--config", str(recipe), "--config", str(SMOKE), "--config", str(DDP), *_small_args(),
                      cwd=workdir)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "distributed_backend=gloo" in log and "Starting with 2 processes" in log
    ckpt = workdir / "runs" / recipe.stem / "checkpoints" / "last.ckpt"  # each recipe writes its own run folder
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["global_step"] == 2
    assert len(state[SPEAKERS_KEY]) == 1 and state[SPEAKERS_KEY][0]["camera"]["focal"] > 0
    assert "body" not in state["hyper_parameters"], "networks are rebuilt from config.yaml, never pickled"

    model = load_run_module(ckpt, MODA)
    body = recipe_config(str(recipe)).model.init_args.body.class_path
    assert type(model.body).__name__ == body.rsplit(".", 1)[1]
    assert np.allclose(model.speaker_stats[0].lips_mean, state[SPEAKERS_KEY][0]["stats"]["lips_mean"])
    wave = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    motion = model.predict_motion(wave)
    assert motion["lips"].shape == (75, 40, 3) and motion["head"].shape == (75, 7)
    assert torch.isfinite(motion["torso"]).all()


def _model(body: str = "dual", **kwargs: object) -> MODA:
    net = DualAttention(H, heads=2, layers=1, ffn=32) if body == "dual" else RecurrentBody(H, layers=1)
    return MODA(MelConvEncoder(80, H, layers=1), net, hidden=H, lips_hidden=32, tail_hidden=16, **kwargs)


def test_hidden_sizes_must_agree() -> None:
    with pytest.raises(ValueError, match="hidden"):
        MODA(MelConvEncoder(80, 8), DualAttention(H, heads=2, layers=1), hidden=H)


def _trained(tiny_speaker: Path, model: MODA, steps: int = 3, **data_kwargs: object) -> tuple[MODA, L.Trainer]:
    data = MotionDataModule([str(tiny_speaker)], window=30, stride=5, jitter=5, batch_size=2, **data_kwargs)
    trainer = L.Trainer(accelerator="cpu", max_steps=steps, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)  # fmt: skip
    trainer.fit(model, datamodule=data)
    return model, trainer


def test_validation_logs_pixel_metrics_and_diversity(tiny_speaker: Path) -> None:
    model, trainer = _trained(tiny_speaker, _model("dual"))
    metrics = trainer.validate(model, datamodule=trainer.datamodule, verbose=False)[0]
    for key in ("val/lmd", "val/lmd_v", "val/ma", "val/mouth_corr", "val/lmd_mean_baseline", "val/diversity"):
        assert key in metrics and np.isfinite(metrics[key]), key
    assert metrics["val/lmd"] > 0 and 0 <= metrics["val/ma"] <= 1
    assert metrics["val/div_head"] > 0
    media = model.validation_media()  # the first val clip, for talkzoo.callbacks.media_logger.ValidationMedia
    assert media is not None and media["kind"] == "motion"
    frames = media["lips_true"].shape[0]
    assert media["lips_pred"].shape == (frames, 40, 2) and media["mouth_pred"].shape == (frames,)
    assert media["head_pred"].shape == media["head_true"].shape == (frames, 7)
    assert np.isfinite(media["lips_pred"]).all() and (media["mouth_true"] >= 0).all()

    lstm, trainer = _trained(tiny_speaker, _model("lstm"))
    metrics = trainer.validate(lstm, datamodule=trainer.datamodule, verbose=False)[0]
    assert metrics["val/div_head"] == 0.0 and metrics["val/div_eyes"] == 0.0


def test_losses_weight_parts_and_include_velocity_and_kl() -> None:
    model = _model("dual", part_weights={"lips": 5.0}, kl_weight=0.5)
    batch = {
        p: torch.zeros(2, 6, *s) for p, s in {"lips": (40, 3), "eyes": (60, 3), "head": (7,), "torso": (18, 3)}.items()
    }
    batch["mask"] = torch.ones(2, 6, dtype=torch.bool)
    pred = {k: v.clone() for k, v in batch.items() if k != "mask"}
    pred["lips"] = pred["lips"] + 1.0
    from talkzoo.zoo.moda import BodyOutput

    body = BodyOutput(torch.zeros(2, 6, 2 * H), kl=torch.full((2, 6), 2.0))
    terms = model.losses(pred, body, batch)
    assert terms["lips"] == pytest.approx(1.0) and terms["lips_vel"] == pytest.approx(0.0)
    assert terms["loss"] == pytest.approx(5.0 * 1.0 + 0.5 * 2.0)
    batch["mask"][:, 3:] = False  # padded frames do not count
    pred["lips"][:, 3:] += 100.0
    assert model.losses(pred, body, batch)["lips"] == pytest.approx(1.0)


def test_predict_motion_windows_smooths_and_is_seedable(tiny_speaker: Path) -> None:
    model, _ = _trained(tiny_speaker, _model("dual", predict_window=30, predict_stride=20, smoothing={"head": 2.0}))
    wave = np.random.default_rng(1).standard_normal(int(16000 * 7.3)).astype(np.float32) * 0.1
    a, b = model.predict_motion(wave, seed=5), model.predict_motion(wave, seed=5)
    c = model.predict_motion(wave, seed=6)
    assert a["lips"].shape == (round(7.3 * 25), 40, 3)
    assert all(torch.equal(a[p], b[p]) for p in a) and not torch.equal(a["eyes"], c["eyes"])
    mean = torch.from_numpy(model.speaker_stats[0].lips_mean)
    assert (a["lips"] - mean).abs().mean() < 50 * model.speaker_stats[0].lips_std.mean()  # de-normalised units
    rough = model.predict_motion(wave, seed=5, temperature=1.0)
    model.smoothing["head"] = 0.0
    assert (
        torch.diff(rough["head"], dim=0).abs().mean()
        < torch.diff(model.predict_motion(wave, seed=5)["head"], dim=0).abs().mean()
    )


def test_wav2vec_encoder_trains_on_waveform_windows(tiny_speaker: Path) -> None:
    encoder = Wav2VecEncoder(random_init=True, size="tiny", hidden=H)
    model = MODA(encoder, DualAttention(H, heads=2, layers=1, ffn=32), hidden=H, lips_hidden=32, tail_hidden=16)
    model, trainer = _trained(tiny_speaker, model, steps=2, audio_source="waveform")
    assert trainer.global_step == 2
    with pytest.raises(UserError, match="audio_source"):
        _trained(tiny_speaker, _model("dual"), steps=1, audio_source="waveform")


def test_multi_speaker_training_keeps_one_statistics_set_per_speaker(tiny_speaker: Path, speaker_copy: Path) -> None:
    data = MotionDataModule([str(tiny_speaker), str(speaker_copy)], window=30, stride=10, jitter=0, batch_size=2)
    model = _model("lstm")
    trainer = L.Trainer(accelerator="cpu", max_steps=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)  # fmt: skip
    trainer.fit(model, datamodule=data)
    assert len(model.speaker_stats) == 2 and len(model.speaker_cameras) == 2
    checkpoint: dict = {}
    model.on_save_checkpoint(checkpoint)
    fresh = _model("lstm")
    fresh.on_load_checkpoint(checkpoint)
    assert [s.speaker for s in fresh.speaker_stats] == [s.speaker for s in model.speaker_stats]
    wave = np.zeros(16000, dtype=np.float32)
    assert fresh.predict_motion(wave, speaker=1)["lips"].shape == (25, 40, 3)

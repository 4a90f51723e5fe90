"""talkzoo.callbacks.media_logger.ValidationMedia: a fake module that implements the validation-media protocol is fitted
for a few val epochs with each logger; the media must land in the logger and under <log_dir>/media/, once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from talkzoo.callbacks.media_logger import ValidationMedia, frame_grid

ROOT = Path(__file__).resolve().parents[1]


def make_media(kind: str, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    if kind == "frames":
        n, h, w = 4, 32, 40
        return {
            "kind": "frames",
            "fps": 25.0,
            "render": rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8),
            "target": rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8),
            "depth": rng.random((n, h, w), dtype=np.float32),
            "opacity": rng.random((n, h, w), dtype=np.float32),
        }
    t = 50
    lips = (rng.random((t, 40, 2)) * 20 + 40).astype(np.float32)
    return {
        "kind": "motion",
        "fps": 25.0,
        "lips_pred": lips + 0.5,
        "lips_true": lips,
        "mouth_pred": rng.random(t).astype(np.float32),
        "mouth_true": rng.random(t).astype(np.float32),
        "head_pred": rng.random((t, 7)).astype(np.float32),
        "head_true": rng.random((t, 7)).astype(np.float32),
    }


class FakeModule(L.LightningModule):
    """Keeps the media of its first val batch, as the protocol asks; counts validation_media() calls per rank."""

    def __init__(self, kind: str = "frames", calls_dir: str | None = None) -> None:
        super().__init__()
        self.kind, self.calls_dir = kind, calls_dir
        self.layer = nn.Linear(4, 1)
        self._media: dict | None = None

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.layer(batch[0]).square().mean()

    def on_validation_epoch_start(self) -> None:
        self._media = None

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        if self._media is None:
            self._media = make_media(self.kind, seed=self.current_epoch)
        self.log("val/loss", self.layer(batch[0]).square().mean(), sync_dist=True)

    def validation_media(self) -> dict | None:
        if self.calls_dir is not None:
            with open(Path(self.calls_dir) / f"calls_rank{self.global_rank}.txt", "a") as f:
                f.write("call\n")
        return self._media

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def _loader(self) -> DataLoader:
        return DataLoader(TensorDataset(torch.randn(8, 4)), batch_size=4)

    def train_dataloader(self) -> DataLoader:
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        return self._loader()


def _fit(module: L.LightningModule, logger: object, callback: ValidationMedia, root: Path, epochs: int) -> L.Trainer:
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        logger=logger,
        callbacks=[callback],
        default_root_dir=root,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=1,  # the sanity check must not log media
        log_every_n_steps=1,
    )
    trainer.fit(module)
    return trainer


def test_frames_grid_layout() -> None:
    grid = frame_grid(make_media("frames"), max_frames=3, tile=256)
    assert grid.shape == (3 * 32, 4 * 40, 3) and grid.dtype == np.uint8  # target | render | depth | opacity
    media = make_media("frames")
    assert np.array_equal(grid[:32, :40], media["target"][0]) and np.array_equal(grid[:32, 40:80], media["render"][0])


def test_frames_to_tensorboard_and_files(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path, name="tb")
    trainer = _fit(FakeModule("frames"), logger, ValidationMedia(every_n_epochs=2), tmp_path, epochs=3)
    media = Path(logger.log_dir) / "media"
    grids = sorted(media.glob("*_frames.png"))
    assert [p.name[:8] for p in grids] == ["epoch000", "epoch002"]  # val runs 1 and 3 of 3 (every 2nd)
    assert len(list(media.glob("*_target_render.mp4"))) == 2
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    assert len(events.Images("val_media/frames")) == 2
    assert trainer.current_epoch == 3


def test_motion_to_tensorboard_figures(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = TensorBoardLogger(tmp_path, name="tb")
    _fit(FakeModule("motion"), logger, ValidationMedia(), tmp_path, epochs=1)
    assert len(list((Path(logger.log_dir) / "media").glob("*_mouth.png"))) == 1
    assert len(list((Path(logger.log_dir) / "media").glob("*_lips.png"))) == 1
    events = EventAccumulator(logger.log_dir, size_guidance={"images": 0})
    events.Reload()
    assert {"val_media/mouth", "val_media/lips"} <= set(events.Tags()["images"])


@pytest.mark.parametrize("kind", ["motion", "frames"])
def test_wandb_offline(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    logger = WandbLogger(project="talkzoo-test", save_dir=str(tmp_path), offline=True)
    try:
        _fit(FakeModule(kind), logger, ValidationMedia(), tmp_path, epochs=2)
        run_files = Path(logger.experiment.dir)
    finally:
        wandb.finish()
    images = list((run_files / "media" / "images").rglob("*.png"))
    media = tmp_path / "media" / str(logger.version)
    if kind == "motion":
        assert len(list(media.glob("*_mouth.png"))) == 2 and len(list(media.glob("*_lips.png"))) == 2
        assert len(images) == 4  # mouth + lips, 2 val epochs
    else:
        assert len(list(media.glob("*_frames.png"))) == 2 and len(list(media.glob("*.mp4"))) == 2
        assert len(images) == 2
        assert len(list((run_files / "media" / "videos").rglob("*.mp4"))) == 2


def test_module_without_media_is_skipped(tmp_path: Path) -> None:
    class Silent(FakeModule):
        def validation_media(self) -> None:
            return None

    logger = TensorBoardLogger(tmp_path, name="tb")
    _fit(Silent("frames"), logger, ValidationMedia(), tmp_path, epochs=1)
    assert not (Path(logger.log_dir) / "media").exists() or not any((Path(logger.log_dir) / "media").iterdir())


_DDP_SCRIPT = """
import sys
from pathlib import Path
import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.strategies import DDPStrategy
sys.path.insert(0, {tests!r})
from test_media_logger import FakeModule
from talkzoo.callbacks.media_logger import ValidationMedia

root = Path({root!r})
trainer = L.Trainer(
    accelerator="cpu", devices=2, strategy=DDPStrategy(process_group_backend="gloo"), max_epochs=2,
    logger=TensorBoardLogger(root, name="tb"), callbacks=[ValidationMedia()], default_root_dir=root,
    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
)
trainer.fit(FakeModule("frames", calls_dir=str(root)))
"""


def test_ddp_two_processes_write_media_once(tmp_path: Path) -> None:
    script = tmp_path / "ddp_fit.py"
    script.write_text(textwrap.dedent(_DDP_SCRIPT.format(tests=str(ROOT / "tests"), root=str(tmp_path))))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "calls_rank0.txt").read_text().count("call") == 2
    assert not (tmp_path / "calls_rank1.txt").exists()  # rank 1 never builds or logs media
    media = tmp_path / "tb" / "version_0" / "media"
    assert len(list(media.glob("*_frames.png"))) == 2 and len(list(media.glob("*.mp4"))) == 2


def test_cli_appends_the_callback_to_a_recipe(workdir: Path) -> None:
    from talkzoo.cli import main

    args = [
        "fit",
        "--config", str(ROOT / "configs" / "moda.yaml"),
        "--config", str(ROOT / "configs" / "presets" / "moda_cpu.yaml"),
        "--config", str(ROOT / "configs" / "trainer" / "cpu_smoke.yaml"),
        "--config", str(ROOT / "configs" / "logger" / "tensorboard.yaml"),
        "--trainer.callbacks+=talkzoo.callbacks.media_logger.ValidationMedia",
    ]  # fmt: skip
    assert main(args) == 0
    media = list((workdir / "runs" / "tensorboard").glob("version_*/media"))
    assert media and list(media[0].glob("*_mouth.png")) and list(media[0].glob("*_lips.png"))
    assert list(workdir.glob("runs/**/*.ckpt")), "the recipe's own callbacks (checkpoints) must still run"

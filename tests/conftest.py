"""Shared fixtures: one tiny synthetic speaker per test session, never the network."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(scope="session", autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory) -> None:
    # nerfacc creates its JIT build folder here even when the CUDA build fails on CPU.
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(tmp_path_factory.mktemp("torch_extensions")))


@pytest.fixture(scope="session")
def synthetic_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`talkzoo synth` output (raw.mp4 + speaker/) of a tiny speaker: 64², 3 s, seed 0. Built once."""
    from talkzoo.datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("synthetic")
    synthesize(out, seconds=3.0, size=64, seed=0, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_speaker(synthetic_output: Path) -> Path:
    """The ground-truth speaker folder of the tiny synthetic speaker (read-only: copy before corrupting)."""
    return synthetic_output / "speaker"


@pytest.fixture(scope="session")
def hard_speaker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hard synthetic speaker (textured 3-D head turning out of plane, moving light, textured background, noise,
    H.264): 64², 6 s, seed 0, its ground-truth folder (150 frames, the last 14 held out). Built once."""
    from talkzoo.datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("hard")
    synthesize(out, seconds=6.0, size=64, seed=0, progress=False, style="hard")
    return out / "speaker"


@pytest.fixture()
def speaker_copy(tiny_speaker: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the tiny speaker, for tests that corrupt or extend it."""
    target = tmp_path / "speaker"
    shutil.copytree(tiny_speaker, target)
    return target


@pytest.fixture()
def workdir(tiny_speaker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory where the recipes' default speaker path `outputs/synth/speaker` is the tiny speaker."""
    (tmp_path / "outputs" / "synth").mkdir(parents=True)
    (tmp_path / "outputs" / "synth" / "speaker").symlink_to(tiny_speaker)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture()
def hub_dir(tmp_path: Path) -> Iterator[Path]:
    """An empty, private torch.hub folder (so no real AlexNet weights are found)."""
    import torch

    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(previous)


# torchvision's alexnet.features layout: (index, out channels, in channels, kernel).
_TORCHVISION_ALEXNET_CONVS = ((0, 64, 3, 11), (3, 192, 64, 5), (6, 384, 192, 3), (8, 256, 384, 3), (10, 256, 256, 3))


@pytest.fixture()
def fake_alexnet(hub_dir: Path) -> Path:
    """A random AlexNet state dict in torchvision's format where torch.hub keeps the real (absent) weights."""
    import torch

    from talkzoo.zoo.losses.lpips import backbone_cache_path

    generator = torch.Generator().manual_seed(0)
    state = {}
    for index, out, inp, kernel in _TORCHVISION_ALEXNET_CONVS:
        fan_in = inp * kernel * kernel
        state[f"features.{index}.weight"] = torch.randn(out, inp, kernel, kernel, generator=generator) / fan_in**0.5
        state[f"features.{index}.bias"] = torch.zeros(out)
    state["classifier.1.weight"] = torch.zeros(4, 4)  # the classifier is in the real file and ignored
    path = backbone_cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


TRAINED_SIZE = 32  # training resolution of the `trained_runs` fixture


@pytest.fixture(scope="session")
def trained_runs(tiny_speaker: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run folder with every stage of every registered method (talkzoo.methods) fitted for 2 steps through
    `talkzoo fit` with its CPU preset, in training order: RUNS/<stage>/checkpoints/last.ckpt. Built once."""
    from talkzoo.cli import main
    from talkzoo.methods import METHODS

    runs = tmp_path_factory.mktemp("trained_runs")
    for method in METHODS.values():
        for stage in method.stages:
            args = ["fit", "--config", stage.recipe]
            args += ["--config", stage.cpu_preset] if stage.cpu_preset else []
            args += ["--config", "cpu_smoke", "--trainer.default_root_dir", str(stage.run_dir(runs))]
            args += stage.fit_overrides(tiny_speaker, runs, TRAINED_SIZE)
            assert main(args) == 0, f"{method.name}: stage {stage.name}"
    return runs

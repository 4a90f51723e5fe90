"""Shared fixtures: one tiny synthetic speaker per test session, never the network."""

from __future__ import annotations

import os
import shutil
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
    from datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("synthetic")
    synthesize(out, seconds=3.0, size=64, seed=0, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_speaker(synthetic_output: Path) -> Path:
    """The ground-truth speaker folder of the tiny synthetic speaker (read-only: copy before corrupting)."""
    return synthetic_output / "speaker"


@pytest.fixture()
def speaker_copy(tiny_speaker: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the tiny speaker, for tests that corrupt or extend it."""
    target = tmp_path / "speaker"
    shutil.copytree(tiny_speaker, target)
    return target

"""The wheel is one `talkzoo` namespace with its recipes inside: installed alone into a fresh virtualenv (its
dependencies, the pinned set, taken from this environment), it lists its recipes and trains from an empty folder."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_runs_from_an_empty_directory(tiny_speaker: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)], check=True,
                   cwd=tmp_path)  # fmt: skip
    (wheel,) = wheels.glob("talkzoo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if ".dist-info" not in n.split("/")[0]} == {"talkzoo"}
    assert "talkzoo/configs/moda.yaml" in names and "talkzoo/configs/presets/moda_cpu.yaml" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    # the dependencies: this environment's (the pinned set), on the path but without its editable talkzoo finder
    venv_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    (Path(venv_site) / "pinned_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    empty = tmp_path / "empty"
    empty.mkdir()
    talkzoo = venv / "bin" / "talkzoo"
    where = subprocess.run([str(python), "-c", "import talkzoo.zoo, talkzoo.configs; print(talkzoo.zoo.__file__)"],
                           cwd=empty, check=True, capture_output=True, text=True).stdout  # fmt: skip
    assert where.startswith(venv_site), where  # the installed wheel, not the checkout
    listing = subprocess.run([str(talkzoo), "recipes"], cwd=empty, check=True, capture_output=True, text=True).stdout
    recipes = [line for line in listing.splitlines() if line.split()[1:2] == ["recipe"]]
    assert len(recipes) >= 6, listing
    env = {"HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "PATH": str(venv / "bin")}
    fit = [str(talkzoo), "fit", "--config", "moda", "--config", "moda_cpu", "--config", "cpu_smoke",
           "--data.speakers", json.dumps([str(tiny_speaker)]), "--trainer.default_root_dir", "runs/moda"]  # fmt: skip
    result = subprocess.run(fit, cwd=empty, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (empty / "runs" / "moda" / "checkpoints" / "last.ckpt").is_file()

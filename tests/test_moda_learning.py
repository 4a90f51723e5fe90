"""The fast MODA learning check (scripts/moda_learning.py --fast): on a 30 s, 64² synthetic speaker, dual attention
trained on the train split must beat the mean-motion baseline on val LMD by ≥ 40 %, its predicted mouth opening
must correlate with the truth at ≥ 0.8, it must have non-zero eye/head diversity, and the LSTM baseline none.
About a minute of training on 2 cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import moda_learning  # noqa: E402


@pytest.fixture(scope="module")
def learning_speaker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from talkzoo.datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("moda_learning")
    synthesize(out, seconds=30.0, size=64, seed=1, progress=False)
    return out / "speaker"


@pytest.mark.slow
def test_dual_attention_learns_lips_and_only_it_is_diverse(learning_speaker: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, str(ROOT / "scripts" / "moda_learning.py"), "--fast", "--speaker", str(learning_speaker)]
    result = subprocess.run(
        [*cmd, "--work", str(tmp_path), "--out", str(out)], env=env, capture_output=True, text=True, timeout=900
    )
    payload = json.loads(out.read_text()) if out.is_file() else {}
    assert result.returncode == 0, (payload.get("failures"), result.stdout[-2000:], result.stderr[-2000:])
    dual, lstm = payload["results"]["dual"], payload["results"]["lstm"]
    assert dual["lmd"] <= 0.6 * dual["lmd_mean_baseline"]
    assert dual["mouth_corr"] >= 0.8
    assert dual["div_eyes"] > 0 and dual["div_head"] > 0
    assert lstm["div_eyes"] == 0 and lstm["div_head"] == 0


def test_the_bars_can_fail() -> None:
    good = {"lmd": 0.1, "lmd_mean_baseline": 0.3, "lmd_gain": 2 / 3, "mouth_corr": 0.95, "div_eyes": 4e-3,
            "div_head": 1e-2}  # fmt: skip
    lstm = {**good, "div_eyes": 0.0, "div_head": 0.0}
    assert moda_learning.check({"dual": good, "lstm": lstm}) == []
    assert moda_learning.check({"dual": {**good, "lmd_gain": 0.2}, "lstm": lstm})
    assert moda_learning.check({"dual": {**good, "mouth_corr": 0.5}, "lstm": lstm})
    assert moda_learning.check({"dual": {**good, "div_head": 0.0}, "lstm": lstm})
    assert moda_learning.check({"dual": {**good, "div_eyes": 5e-4}, "lstm": lstm})  # below the 1e-3 floor
    assert moda_learning.check({"dual": good, "lstm": {**lstm, "div_head": 1e-3}})

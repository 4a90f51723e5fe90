"""`talkzoo demo` end to end at a tiny budget: it learns, writes its metrics, and a second run resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.pipelines.demo import DemoSettings, run_demo

TINY = DemoSettings(seconds=12.0, size=64, max_steps=80)


def test_demo_learns_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metrics = run_demo(tmp_path, settings=TINY)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["lip_error_model"] == pytest.approx(metrics["lip_error_model"])
    # Held-out audio: the regressor must clearly beat the mean-motion baseline and follow the mouth.
    assert metrics["improvement_over_baseline"] > 0.3, metrics
    assert metrics["mouth_opening_correlation"] > 0.6, metrics

    capsys.readouterr()
    again = run_demo(tmp_path, settings=TINY)
    out = capsys.readouterr().out
    assert "reusing" in out and "(step 80)" in out
    assert again["lip_error_model"] == pytest.approx(metrics["lip_error_model"])

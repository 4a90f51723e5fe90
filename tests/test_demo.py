"""`talkzoo demo` end to end at a tiny budget: it learns, writes its metrics, and a second run resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo.pipelines.demo import DemoSettings, run_demo

TINY = DemoSettings(seconds=12.0, size=64, max_steps=100)


def test_demo_learns_and_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    metrics = run_demo(tmp_path, settings=TINY)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["lmd"] == pytest.approx(metrics["lmd"])
    # Held-out audio: MODA must clearly beat the mean-motion baseline and follow the mouth.
    assert metrics["improvement_over_baseline"] > 0.3, metrics
    assert metrics["mouth_corr"] > 0.6, metrics

    capsys.readouterr()
    again = run_demo(tmp_path, settings=TINY)
    out = capsys.readouterr().out
    assert "reusing" in out and "(step 100)" in out
    assert again["lmd"] == pytest.approx(metrics["lmd"])

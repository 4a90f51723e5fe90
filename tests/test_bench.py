"""`talkzoo bench`: the runner records the machine, runs registered benchmarks and writes JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from talkzoo.cli import main
from talkzoo.pipelines.bench import BenchContext, load_benchmarks


def test_suite_registers_benchmarks() -> None:
    assert {"synth", "audio_features"} <= set(load_benchmarks())


def test_median_time_runs_warmup_and_repeats(tmp_path: Path) -> None:
    calls: list[int] = []
    ctx = BenchContext(tmp_path, cuda=False, quick=True, repeats=3, warmup=2)
    assert ctx.median_time(lambda: calls.append(1)) >= 0.0
    assert len(calls) == 5


def test_bench_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--only", "audio_features", "--quick", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["machine"]["cores"] >= 1
    metrics = result["results"]["audio_features"]
    assert "error" not in metrics
    assert metrics["mel_realtime_factor"] > 1.0 and metrics["wav2vec2_base_random_realtime_factor"] > 0.0


def test_unknown_benchmark_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--only", "nope"]) == 1
    assert "unknown benchmark(s) nope" in capsys.readouterr().err

"""`talkzoo bench`: the performance suite. Speed and memory goals live here, never in timed unit tests.

Each benchmark is a function `fn(ctx) -> {metric: value}` registered with `@register(name)` in a module of
`talkzoo/pipelines/benchmarks/`. The runner records the machine, gives each benchmark a scratch folder, and reports
medians over repeats after warm-up (`BenchContext.median_time`).
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import resource
import statistics
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

BenchFn = Callable[["BenchContext"], dict[str, float]]
BENCHMARKS: dict[str, BenchFn] = {}


def register(name: str) -> Callable[[BenchFn], BenchFn]:
    """Decorator: add a benchmark to the suite under `name`."""

    def add(fn: BenchFn) -> BenchFn:
        BENCHMARKS[name] = fn
        return fn

    return add


@dataclass
class BenchContext:
    """What a benchmark gets: a scratch folder, the device, and the repeat policy."""

    tmp: Path
    cuda: bool
    quick: bool
    repeats: int = 5
    warmup: int = 1

    def median_time(self, fn: Callable[[], Any], repeats: int | None = None) -> float:
        """Median wall time of `fn()` in seconds over `repeats` runs after `warmup` runs (CUDA synchronised)."""
        for _ in range(self.warmup):
            fn()
        times = []
        for _ in range(repeats or self.repeats):
            if self.cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if self.cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        return statistics.median(times)


def machine_info() -> dict[str, Any]:
    """The machine a result was measured on."""
    info: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            info["cpu"] = names[0]
    except OSError:
        pass
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def load_benchmarks() -> dict[str, BenchFn]:
    """Import every module of talkzoo.pipelines.benchmarks so their @register calls run."""
    import talkzoo.pipelines.benchmarks as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return BENCHMARKS


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_bench(out: str | Path | None = None, only: list[str] | None = None, quick: bool = False) -> dict[str, Any]:
    """Run the suite (or the benchmarks named in `only`); print a table; write JSON to `out` when given.

    A failing benchmark is recorded with its error and the others still run.
    """
    benchmarks = load_benchmarks()
    unknown = sorted(set(only or []) - set(benchmarks))
    if unknown:
        from talkzoo.zoo.errors import UserError

        raise UserError(f"unknown benchmark(s) {', '.join(unknown)}; available: {', '.join(sorted(benchmarks))}")
    cuda = torch.cuda.is_available()
    results: dict[str, Any] = {"machine": machine_info(), "quick": quick, "results": {}}
    for name in only or sorted(benchmarks):
        print(f"== bench {name}", flush=True)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"talkzoo-bench-{name}-") as tmp:
            try:
                metrics: dict[str, Any] = benchmarks[name](BenchContext(Path(tmp), cuda=cuda, quick=quick))
            except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
                traceback.print_exc()
                metrics = {"error": f"{type(exc).__name__}: {exc}"}
        metrics["wall_s"] = time.perf_counter() - started
        metrics["peak_rss_mb"] = _peak_memory_mb()
        if cuda:
            metrics["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
        results["results"][name] = metrics
        for key, value in metrics.items():
            shown = f"{value:.4g}" if isinstance(value, float) else value
            print(f"   {key:<36} {shown}", flush=True)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(results, indent=2))
        print(f"wrote {out}")
    return results

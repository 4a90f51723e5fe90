"""One worker process of the GPU check runner (talkzoo.gpu.runner): runs a list of checks in order and writes each
result to RESULTS/<check>.json as soon as it is known, plus RESULTS/_current.json (which check runs since when) so
the runner can stop a check that overruns its budget and start a new worker for the rest. When RESULTS/_yield
appears, the worker stops before its next check (and says so with RESULTS/_yielded).

    python -m talkzoo.gpu.child --results DIR --device cuda --profile cuda --work DIR --config-dir DIR
        [--speaker DIR] [--root DIR] CHECK [CHECK ...]
    python -m talkzoo.gpu.child --results DIR --build nerfacc|gsplat

TALKZOO_GPU_BLOCK=mod1,mod2 makes those imports fail as on the GPU check machine (the CPU rehearsal sets it).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


class RefuseImports(importlib.abc.MetaPathFinder):
    """Makes `import NAME` fail for the given top-level names, recording each attempt."""

    def __init__(self, names: list[str]) -> None:
        self.names = set(names)
        self.refused: list[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top in self.names:
            if top not in self.refused:
                self.refused.append(top)
            raise ModuleNotFoundError(f"No module named {top!r} (absent on the GPU check machine)", name=top)
        return None


REFUSER = RefuseImports([n for n in os.environ.get("TALKZOO_GPU_BLOCK", "").split(",") if n])
if REFUSER.names:
    sys.meta_path.insert(0, REFUSER)


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def result_path(results: Path, check: str) -> Path:
    return results / f"{check}.json"


def imported_missing_distributions() -> list[str]:
    """Distributions this process imported that the GPU check machine does not have (they must be in the kit)."""
    from talkzoo.gpu.kit import missing_on_gpu_machine

    return missing_on_gpu_machine({name.partition(".")[0] for name in list(sys.modules)})


def _probe_gsplat() -> tuple[bool, str]:
    import torch

    from talkzoo.zoo.talkinggaussian.rasterizer import gsplat_status

    if not torch.cuda.is_available():
        return False, "CUDA is not available"
    return gsplat_status(torch.device("cuda"))


def build_extension(name: str, results: Path) -> int:
    """Probe (= build on first use) nerfacc's or gsplat's CUDA code; writes RESULTS/_<name>_build.json."""
    start = time.perf_counter()
    if name == "nerfacc":
        from talkzoo.zoo.rendering.samplers import nerfacc_cuda_status as probe
    else:
        probe = _probe_gsplat
    imported = time.perf_counter()
    available, reason = probe()
    _write(
        results / f"_{name}_build.json",
        {"available": available, "reason": reason, "seconds": time.perf_counter() - imported,
         "import_seconds": imported - start, "finished_at": time.time()},
    )  # fmt: skip
    return 0


def run_checks(args: argparse.Namespace) -> int:
    import torch

    from talkzoo.gpu.checks import spec_for
    from talkzoo.gpu.checks.common import CheckContext
    from talkzoo.gpu.checks.machine import machine_info
    from talkzoo.gpu.profiles import PROFILES

    results = Path(args.results)
    if not (results / "_machine.json").exists():
        import talkzoo.zoo

        info = machine_info()
        info["talkzoo_imported_from"] = str(Path(talkzoo.zoo.__file__).parent.parent)
        _write(results / "_machine.json", info)
    config_dir = Path(args.config_dir)
    ctx = CheckContext(
        profile=PROFILES[args.profile], device=args.device, speaker=Path(args.speaker) if args.speaker else None,
        work=Path(args.work), config_dir=config_dir, root=Path(args.root) if args.root else None,
    )  # fmt: skip
    for name in args.checks:
        if (results / "_yield").exists():  # the runner wants the checks that march rays first: stop here
            (results / "_yielded").touch()
            break
        spec = spec_for(name, config_dir)
        _write(results / "_current.json", {"check": name, "started": time.time(), "pid": os.getpid()})
        start = time.perf_counter()
        record: dict[str, Any] = {
            "check": name,
            "section": spec.section,
            "title": spec.title,
            "started_at": time.time(),
        }
        try:
            module_name, _, function = spec.target.partition(":")
            outcome = getattr(importlib.import_module(module_name), function)(ctx, spec)
            record.update(outcome.to_dict())
            passed = bool(outcome.criteria) and all(c["passed"] for c in outcome.criteria)
            record["status"] = "passed" if passed else "failed"
        except Exception as exc:  # noqa: BLE001 - the report records it; the next check still runs
            record.update(status="error", error=f"{type(exc).__name__}: {exc}"[:3000])
            record["traceback"] = traceback.format_exc()[-6000:]
        record["wall_s"] = time.perf_counter() - start
        record["refused_imports"] = list(REFUSER.refused)
        record["imported_missing_distributions"] = imported_missing_distributions()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        _write(result_path(results, name), record)
        print(f"[talkzoo.gpu] {name}: {record['status']} in {record['wall_s']:.1f} s", flush=True)
    (results / "_current.json").unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m talkzoo.gpu.child")
    parser.add_argument("--results", required=True)
    parser.add_argument("--build", choices=("nerfacc", "gsplat"), help="build this CUDA extension and exit")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--profile", default="cuda")
    parser.add_argument("--work")
    parser.add_argument("--config-dir")
    parser.add_argument("--speaker")
    parser.add_argument("--root")
    parser.add_argument("checks", nargs="*")
    args = parser.parse_args(argv)
    if args.build:
        return build_extension(args.build, Path(args.results))
    return run_checks(args)


if __name__ == "__main__":
    sys.exit(main())

"""`python3 -m talkzoo.gpu` (`make gpu-check`): every CUDA path of talkzoo checked and measured in one call that
always ends inside its budget (8 minutes by default) with gpu_report.json + gpu_report.md (+ gpu_check.log) in
--out ($OUT when set, else the working directory). `--device cpu` is the rehearsal: the same code at tiny sizes.

What it does, in order (docs/gpu.md):
1. Installs the kit's wheels (.gpu_kit/wheels: the packages the checks import that the GPU check machine lacks)
   into a temporary folder, only those this Python does not have; lays the checkout out as the `talkzoo` package
   with symlinks (talkzoo.zoo → zoo/, ...: setup.py's mapping, no build step).
2. Starts nerfacc's and gsplat's CUDA builds in the background and runs, meanwhile, the checks that need neither
   (the recipes without a NeRF or Gaussians, then MODA speed). Once nerfacc's build is done (CUDA), the sampler
   comparison, the ER-NeRF recipes and ER-NeRF speed go next; once gsplat's is done, the GPU tests, the
   TalkingGaussian recipes and TalkingGaussian speed; whatever of the first group is left runs last.
Every check runs in a worker process (talkzoo.gpu.child) under its own time budget and the global deadline; a
check that fails, crashes or overruns is recorded and the rest still run. The report is rewritten after every
check, so it exists whatever happens.

This module is stdlib-only: it starts before the wheels are installed and before `talkzoo.zoo` is importable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from talkzoo.gpu import kit, report
from talkzoo.gpu.checks import CHECKS, CheckSpec, recipe_checks
from talkzoo.gpu.profiles import PROFILES, Profile

DEFAULT_BUDGET_S = 480
RESERVE_S = 8  # kept for the final report
MIN_START_S = 15  # no worker is started with less time left than this
LOG_NAME = "gpu_check.log"


def checkout_root() -> Path | None:
    """The checkout this module runs from (it holds setup.py), or None when talkzoo is installed."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "setup.py").is_file() and (root / "talkzoo" / "gpu").is_dir() else None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Run:
    """One GPU check run: its folders, its report, its deadline and its worker processes."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + args.budget
        self.device: str = args.device
        self.profile: Profile = PROFILES[args.device]
        self.root = checkout_root()
        self.out = Path(args.out or os.environ.get("OUT") or ".").resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.work = Path(args.work).resolve() if args.work else Path(tempfile.mkdtemp(prefix="talkzoo-gpu-"))
        self.results = self.work / "results"
        self.cwd = self.work / "cwd"  # workers run here: no `talkzoo` folder shadows the staged package
        for folder in (self.results, self.cwd):
            folder.mkdir(parents=True, exist_ok=True)
        self.log: IO[str] = open(self.out / LOG_NAME, "a")  # noqa: SIM115 - open for the whole run
        self.env = dict(os.environ)
        self.speaker: Path | None = None
        self.config_dir = Path()
        self.build_window: tuple[float | None, float | None] = (None, None)  # wall clock of the CUDA builds
        self.data: dict[str, Any] = {
            "format": "talkzoo-gpu-report", "version": 1, "started": now_iso(), "finished": None, "complete": False,
            "device": self.device, "profile": self.profile.name, "budget_s": args.budget, "wall_s": 0.0,
            "command": [sys.executable, "-m", "talkzoo.gpu", *(args.argv or [])], "setup": {}, "nerfacc_build": {},
            "gsplat_build": {}, "machine": {}, "checks": {}, "summary": {},
        }  # fmt: skip

    # ------------------------------------------------------------------------------------------- report
    def left(self) -> float:
        return self.deadline - time.monotonic()

    def save(self) -> None:
        machine = self.results / "_machine.json"
        if machine.is_file() and not self.data["machine"]:
            self.data["machine"] = json.loads(machine.read_text())
        statuses = [c["status"] for c in self.data["checks"].values()]
        self.data["summary"] = {s: statuses.count(s) for s in sorted(set(statuses))}
        self.data["wall_s"] = time.monotonic() - self.start
        report.write(self.out, self.data)

    def say(self, text: str) -> None:
        line = f"[talkzoo.gpu {time.monotonic() - self.start:6.1f}s] {text}"
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def record(self, spec: CheckSpec, status: str, **fields: Any) -> None:
        self.data["checks"][spec.name] = {"check": spec.name, "section": spec.section, "title": spec.title,
                                          "status": status, **fields}  # fmt: skip
        self.say(f"{spec.name}: {status}" + (f" ({fields['error']})" if "error" in fields else ""))
        self.save()

    # -------------------------------------------------------------------------------------------- setup
    def setup(self, args: argparse.Namespace) -> None:
        kit_dir = Path(args.kit).resolve() if args.kit else (self.root or Path.cwd()) / kit.KIT_DIR
        manifest = kit.read_manifest(kit_dir)
        setup: dict[str, Any] = self.data["setup"]
        setup.update(kit=str(kit_dir), kit_built=(manifest or {}).get("built"), work=str(self.work))
        wheels = sorted((kit_dir / kit.WHEELS_DIR).glob("*.whl"))
        paths = []
        if wheels:
            site = self.work / "site"
            setup["wheels"] = kit.install_wheels(wheels, site)
            paths.append(str(site))
        else:
            setup["wheels"] = "no kit wheels: the environment's packages are used"
        if self.root is not None:
            stage = kit.stage_package(self.root, self.work / "stage")
            paths.append(str(stage))
            setup["namespace"] = f"checkout {self.root} staged as the talkzoo package (symlinks) in {stage}"
            self.config_dir = self.root / kit.namespace_mapping(self.root)["talkzoo.configs"]
        else:
            setup["namespace"] = "installed talkzoo"
            self.config_dir = Path(__file__).resolve().parents[1] / "configs"
        old = self.env.get("PYTHONPATH")
        self.env["PYTHONPATH"] = os.pathsep.join(paths + ([old] if old else []))
        blocked = [] if args.no_block else list(kit.NOT_ON_GPU_MACHINE)
        setup["refused_imports"] = ", ".join(blocked) or "none"
        self.env.update(
            PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="disabled",
            TORCH_EXTENSIONS_DIR=str(self.work / "torch_extensions"), TALKZOO_GPU_BLOCK=",".join(blocked),
        )  # fmt: skip
        speaker = Path(args.speaker).resolve() if args.speaker else kit_dir / kit.SPEAKER_DIR
        if not (speaker / "speaker.json").is_file() and self.device == "cpu" and not args.speaker:
            speaker = self.synthesize_tiny_speaker()
        self.speaker = speaker if (speaker / "speaker.json").is_file() else None
        setup["speaker"] = str(self.speaker) if self.speaker else f"none ({speaker} has no speaker.json)"
        self.save()

    def synthesize_tiny_speaker(self) -> Path:
        """The rehearsal without a kit (CI): a 64², 3 s synthetic speaker, made here (needs mediapipe + PyAV)."""
        out = self.work / "synth"
        self.say("no kit speaker: synthesising a 64² speaker for the rehearsal")
        command = [sys.executable, "-m", "talkzoo.cli", "synth", str(out), "--seconds", "3", "--size", "64"]
        env = {**self.env, "TALKZOO_GPU_BLOCK": ""}
        subprocess.run(command, cwd=self.cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, timeout=300)
        return out / "speaker"

    # ------------------------------------------------------------------------------------------ workers
    def launch(self, command: list[str]) -> subprocess.Popen[bytes]:
        self.log.flush()
        return subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip

    @staticmethod
    def stop(process: subprocess.Popen[bytes]) -> None:
        """Kill a worker and everything it started (DataLoader workers, ninja, nvcc)."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()

    def start_build(self, name: str) -> subprocess.Popen[bytes]:
        """Build nerfacc's or gsplat's CUDA extension in a background process."""
        self.say(f"building {name}'s CUDA extension in the background")
        if self.build_window[0] is None:
            self.build_window = (time.time(), None)
        return self.launch([sys.executable, "-m", "talkzoo.gpu.child", "--results", str(self.results),
                            "--build", name])  # fmt: skip

    def finish_build(self, name: str, process: subprocess.Popen[bytes], started: float) -> None:
        """Wait for a build (at most its budget from its start, never past the deadline); record how it went.
        wall_s: from the build's start to its end (import, compile, load); seconds: the probe (compile + load)."""
        limit = started + self.profile.nerfacc_build_seconds
        while process.poll() is None and time.monotonic() < min(limit, self.deadline - RESERVE_S):
            time.sleep(0.5)
        build: dict[str, Any] = {}
        if process.poll() is None:
            self.stop(process)
            waited = time.monotonic() - started
            build.update(available=False, reason=f"the build did not finish within {waited:.0f} s")
        path = self.results / f"_{name}_build.json"
        if path.is_file():
            build.update(json.loads(path.read_text()))
        elif "reason" not in build:
            build.update(available=False, reason=f"the build process exited with {process.returncode} (see the log)")
        begun = self.build_window[0] or time.time()
        finished = float(build.get("finished_at") or time.time())
        self.build_window = (begun, max(finished, self.build_window[1] or 0.0))  # the later of the builds' ends
        build["wall_s"] = finished - begun
        if not build.get("available"):
            self.env[f"TALKZOO_{name.upper()}"] = "off"  # later workers take the torch path at once, never rebuild
        self.data[f"{name}_build"] = build
        self.say(f"{name}: {'available' if build.get('available') else 'unavailable'} ({build.get('reason')})")
        self.save()

    def run_checks(
        self, specs: list[CheckSpec], env: dict[str, str] | None = None, yield_when: Callable[[], bool] | None = None
    ) -> list[CheckSpec]:
        """Run `specs` in worker processes: one worker for all, a new one for the rest after a crash or overrun.
        When `yield_when()` turns true the worker stops between two checks; returns the checks it left for later."""
        pending = list(specs)
        while pending:
            if self.left() < MIN_START_S + RESERVE_S:
                for spec in pending:
                    self.record(spec, "skipped", error=f"not started: {self.left():.0f} s left of the budget")
                return []
            command = [sys.executable, "-m", "talkzoo.gpu.child", "--results", str(self.results),
                       "--device", self.device, "--profile", self.profile.name, "--work", str(self.work),
                       "--config-dir", str(self.config_dir)]  # fmt: skip
            command += ["--speaker", str(self.speaker)] if self.speaker else []
            command += ["--root", str(self.root)] if self.root else []
            for marker in ("_current.json", "_yield", "_yielded"):
                (self.results / marker).unlink(missing_ok=True)
            saved, self.env = self.env, {**self.env, **(env or {})}
            process = self.launch(command + [s.name for s in pending])
            self.env = saved
            stopped = self.watch(process, pending, yield_when)
            finished = [s for s in pending if (self.results / f"{s.name}.json").is_file()]
            for spec in finished:
                self.load_result(spec.name)
            pending = [s for s in pending if s not in finished]
            if (self.results / "_yielded").exists():
                self.save()
                return pending
            if pending:
                current = self._current()
                victim = next((s for s in pending if s.name == current), pending[0])
                reason = stopped or f"the worker exited with {process.returncode} during this check (see the log)"
                self.record(victim, "timeout" if stopped else "crashed", error=reason, log_tail=self.log_tail())
                pending.remove(victim)
            self.save()
        return []

    def load_result(self, name: str) -> None:
        result = json.loads((self.results / f"{name}.json").read_text())
        start, end = self.build_window
        if start is not None and "started_at" in result:
            finished = result["started_at"] + (result.get("wall_s") or 0.0)
            result["overlapped_cuda_builds"] = result["started_at"] < (end or time.time()) and finished > start
        self.data["checks"][name] = result

    def watch(
        self, process: subprocess.Popen[bytes], specs: list[CheckSpec], yield_when: Callable[[], bool] | None = None
    ) -> str | None:
        """Wait for a worker; stop it when its current check overruns its budget or the deadline nears; ask it to
        stop between checks once `yield_when()`. Returns why it was stopped (None when it exited by itself)."""
        seen: set[str] = set()
        while process.poll() is None:
            time.sleep(0.5)
            done = {s.name for s in specs if (self.results / f"{s.name}.json").is_file()} - seen
            if done:
                seen |= done
                for name in done:
                    self.load_result(name)
                self.save()
            if yield_when is not None and not (self.results / "_yield").exists() and yield_when():
                (self.results / "_yield").touch()
            current, started = self._current(with_start=True)
            if current and started and time.time() - started > self.profile.budget(current):
                self.stop(process)
                return f"stopped after its budget of {self.profile.budget(current)} s"
            if self.left() < RESERVE_S:
                self.stop(process)
                return f"stopped at the run's deadline ({self.data['budget_s']} s)"
        return None

    def _current(self, with_start: bool = False) -> Any:
        try:
            current = json.loads((self.results / "_current.json").read_text())
        except (OSError, ValueError):
            return (None, None) if with_start else None
        return (current.get("check"), current.get("started")) if with_start else current.get("check")

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        text = (self.out / LOG_NAME).read_text(errors="replace")
        return text[-chars:]

    # --------------------------------------------------------------------------------------- GPU tests
    def run_gpu_tests(self, spec: CheckSpec) -> None:
        """The suite's GPU tests (pytest -m gpu) in the test files that have any."""
        if self.root is None or not (self.root / "tests").is_dir():
            self.record(spec, "skipped", error="tests/ is not part of an installed talkzoo: run from a checkout")
            return
        files = [str(p) for p in sorted((self.root / "tests").glob("test_*.py")) if "mark.gpu" in p.read_text()]
        junit = self.work / "gpu_tests.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "gpu",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--rootdir={self.root}",
            "-c",
            str(self.root / "pyproject.toml"),
            f"--junitxml={junit}",
            *files,
        ]
        started = time.monotonic()
        limit = min(self.profile.budget(spec.name), self.left() - RESERVE_S)
        process = self.launch(command)
        while process.poll() is None and time.monotonic() - started < limit:
            time.sleep(0.5)
        timed_out = process.poll() is None
        if timed_out:
            self.stop(process)
        fields: dict[str, Any] = {"wall_s": time.monotonic() - started, "metrics": {"files": files}, "criteria": []}
        if junit.is_file():
            fields["metrics"].update(self._junit(junit))
        m = fields["metrics"]
        failed = m.get("failed", 0) + m.get("errors", 0)
        ok = not timed_out and process.returncode == 0 and failed == 0
        fields["criteria"].append({"name": "no GPU test failed", "passed": ok,
                                   "detail": f"exit {process.returncode}, {failed} failed / errors"})  # fmt: skip
        if self.device == "cuda":
            ran = m.get("passed", 0) >= 1
            fields["criteria"].append(
                {
                    "name": "GPU tests ran on CUDA (not skipped)",
                    "passed": ran,
                    "detail": f"{m.get('passed', 0)} passed, {m.get('skipped', 0)} skipped",
                }
            )
            ok = ok and ran
        self.record(spec, "timeout" if timed_out else ("passed" if ok else "failed"), **fields)

    @staticmethod
    def _junit(path: Path) -> dict[str, Any]:
        root = ET.parse(path).getroot()
        cases = list(root.iter("testcase"))
        outcome: dict[str, Any] = {"collected": len(cases), "passed": 0, "failed": 0, "errors": 0, "skipped": 0}
        problems = []
        for case in cases:
            kind = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
            key = {"failure": "failed", "error": "errors"}.get(kind, kind)
            outcome[key] += 1
            if kind in ("failure", "error", "skipped"):
                message = next(c for c in case if c.tag == kind).get("message", "")
                problems.append(f"{case.get('name')}: {kind}: {message[:200]}")
        outcome["details"] = problems
        return outcome


def plan(run: Run, only: list[str] | None) -> tuple[list[CheckSpec], list[CheckSpec]]:
    """(checks that march no rays and splat nothing: run while nerfacc and gsplat build, checks that do: after the
    builds), in report order."""
    recipes = recipe_checks(run.config_dir)
    ordered = [*[r for r in recipes if not r.needs_build], CHECKS["moda_speed"], CHECKS["gpu_tests"],
               CHECKS["sampler"], *[r for r in recipes if r.needs_nerfacc], CHECKS["ernerf_speed"],
               *[r for r in recipes if r.needs_gsplat and not r.needs_nerfacc],
               CHECKS["talkinggaussian_speed"], CHECKS["streaming"]]  # fmt: skip
    if only:
        unknown = set(only) - {s.name for s in ordered}
        if unknown:
            raise SystemExit(f"unknown check(s) {', '.join(sorted(unknown))}; choose from "
                             f"{', '.join(s.name for s in ordered)}")  # fmt: skip
        ordered = [s for s in ordered if s.name in only]
    return [s for s in ordered if not s.needs_build], [s for s in ordered if s.needs_build]


def execute(run: Run, only: list[str] | None) -> None:
    """nerfacc's and gsplat's builds run in the background with the checks that need neither; once nerfacc's is
    done (CUDA), the worker stops between two checks and the checks that march rays go first, then (gsplat built)
    the GPU tests and the checks that splat Gaussians; what was left runs at the end."""
    before, after = plan(run, only)
    for spec in before + after:
        if spec.needs_speaker and run.speaker is None:
            run.record(spec, "skipped", error="no speaker: build the kit (make gpu-kit) or pass --speaker")
    ready = [s for s in before + after if s.name not in run.data["checks"]]
    before, after = [s for s in before if s in ready], [s for s in after if s in ready]
    can_start = after and run.left() > MIN_START_S + RESERVE_S
    build = run.start_build("nerfacc") if can_start and any(s.needs_nerfacc for s in after) else None
    gsplat = run.start_build("gsplat") if can_start and any(s.needs_gsplat for s in after) else None
    build_started = time.monotonic()

    def built() -> bool:
        return run.profile.yield_to_nerf_checks and build is not None and build.poll() is not None

    # nothing in `before` marches rays or splats: TALKZOO_NERFACC / TALKZOO_GSPLAT=off keep it from racing the
    # builds for the extensions
    leftover = run.run_checks(before, env={"TALKZOO_NERFACC": "off", "TALKZOO_GSPLAT": "off"}, yield_when=built)
    if build is not None:
        run.finish_build("nerfacc", build, build_started)
    # streaming marches rays too (ER-NeRF) but is the least urgent: it runs last, after the Gaussian checks
    deferred = CHECKS["streaming"]
    nerf = [s for s in after if s.needs_nerfacc and not s.needs_gsplat and s.target != "pytest" and s is not deferred]
    run.run_checks(nerf)  # while gsplat may still be building
    if gsplat is not None:
        run.finish_build("gsplat", gsplat, build_started)
    for spec in (s for s in after if s.target == "pytest"):  # the GPU tests cover both extensions
        run.run_gpu_tests(spec)
    run.run_checks([s for s in after if s not in nerf and s.target != "pytest"])
    run.run_checks(leftover)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m talkzoo.gpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=sorted(PROFILES), default="cuda", help="cuda (default) or cpu (rehearsal)")
    parser.add_argument("--kit", default=None, help="the kit folder (default: .gpu_kit in the checkout)")
    parser.add_argument("--speaker", default=None, help="a speaker folder instead of the kit's")
    parser.add_argument("--out", default=None, help="report folder (default: $OUT, else the working directory)")
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET_S, help="seconds for the whole run (480)")
    parser.add_argument("--only", default=None, help="comma-separated check names (a targeted rerun)")
    parser.add_argument("--work", default=None, help="scratch folder (default: a new temporary folder)")
    parser.add_argument("--keep-work", action="store_true", help="keep the scratch folder (run folders, results)")
    parser.add_argument("--no-block", action="store_true", help="do not refuse mediapipe/av/wandb/kornia imports")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    run = Run(args)
    run.say(f"device {run.device}, budget {args.budget} s, report in {run.out}")
    try:
        run.setup(args)
        execute(run, [n for n in args.only.split(",") if n] if args.only else None)
        run.data["complete"] = True
    except Exception as exc:  # noqa: BLE001 - the report is written whatever happened
        run.data["runner_error"] = f"{type(exc).__name__}: {exc}"
        run.say(f"runner error: {run.data['runner_error']}")
    finally:
        run.data["finished"] = now_iso()
        run.save()
        run.log.close()
        if not args.keep_work and not args.work:
            shutil.rmtree(run.work, ignore_errors=True)
    summary = run.data["summary"]
    print(f"[talkzoo.gpu] {', '.join(f'{k}: {v}' for k, v in summary.items())} — wrote {run.out / report.JSON_NAME}")
    for name, check in run.data["checks"].items():
        print(f"  {check['status']:<8} {name:<28} {check.get('wall_s') or 0:6.1f} s")
    ok = run.data["complete"] and set(summary) <= {"passed"}
    return 0 if ok else 1

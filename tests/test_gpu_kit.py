"""The GPU verification kit (talkzoo.gpu, docs/gpu.md): the CPU rehearsal end to end (the GPU run's script at tiny
sizes) and the content of its report; the kit's wheels are exactly what the checks import that the GPU check machine
lacks (measured in the rehearsal, and statically: nothing on the check paths imports MediaPipe, PyAV, soundfile or
W&B at module level); wheels install without a registry; the checkout stages as the `talkzoo` package without a
build; a check that overruns is stopped and the deadline skips what cannot start; the ER-NeRF head's training step
stays finite under fp16 autocast with loss scaling.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from talkzoo.gpu import kit
from talkzoo.gpu.checks import CHECKS, recipe_checks

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


# ------------------------------------------------------------------------------------------ the rehearsal
@pytest.fixture(scope="module")
def rehearsal(tiny_speaker: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`python -m talkzoo.gpu --device cpu` (= `make gpu-check DEVICE=cpu`) on the tiny speaker, from the checkout."""
    out = tmp_path_factory.mktemp("gpu_report")
    command = [sys.executable, "-m", "talkzoo.gpu", "--device", "cpu", "--speaker", str(tiny_speaker), "--out",
               str(out), "--budget", "420"]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    return {
        "rc": done.returncode, "output": done.stdout + done.stderr, "wall_s": time.monotonic() - started,
        "report": json.loads((out / "gpu_report.json").read_text()), "markdown": (out / "gpu_report.md").read_text(),
    }  # fmt: skip


def test_cpu_rehearsal_runs_every_check(rehearsal: dict[str, Any]) -> None:
    report = rehearsal["report"]
    assert report["complete"] and report["device"] == "cpu" and report["format"] == "talkzoo-gpu-report"
    expected = {spec.name for spec in recipe_checks(CONFIGS)} | set(CHECKS)
    assert set(report["checks"]) == expected
    assert {f"recipe.{p.stem}" for p in CONFIGS.glob("*.yaml")} <= expected, "every recipe in configs/ is a check"
    broken = {n: (c["status"], c.get("error"), [x for x in c.get("criteria", []) if not x["passed"]])
              for n, c in report["checks"].items() if c["status"] != "passed"}  # fmt: skip
    assert not broken, broken
    assert rehearsal["rc"] == 0, rehearsal["output"][-3000:]
    assert report["wall_s"] <= report["budget_s"]


def test_rehearsal_report_content(rehearsal: dict[str, Any]) -> None:
    report = rehearsal["report"]
    checks = report["checks"]
    for spec in recipe_checks(CONFIGS):  # section 2: each recipe trained in bf16-mixed, finite
        metrics, criteria = checks[spec.name]["metrics"], {c["name"]: c for c in checks[spec.name]["criteria"]}
        assert metrics["bf16-mixed/precision"] == "bf16-mixed" and metrics["bf16-mixed/batches"] >= 2
        assert criteria["bf16-mixed: no inf/NaN"]["passed"]
    sampler = checks["sampler"]  # section 1: the torch legs ran on a trained head; nerfacc's are CUDA-only
    assert sampler["metrics"]["torch/psnr_head_vs_truth"] > sampler["metrics"]["backdrop_only/psnr_head_vs_truth"]
    assert math.isfinite(sampler["metrics"]["torch_vs_torch_fine/psnr_head"])
    assert any("CUDA-only" in note for note in sampler["notes"])
    assert report["nerfacc_build"]["available"] is False
    assert report["nerfacc_build"]["reason"] == "CUDA is not available"
    assert report["gsplat_build"]["available"] is False and report["gsplat_build"]["reason"] == "CUDA is not available"
    tests = checks["gpu_tests"]["metrics"]
    assert tests["collected"] >= 2 and tests["skipped"] == tests["collected"], "GPU tests skip visibly on CPU"
    speed = checks["ernerf_speed"]["metrics"]  # section 3
    assert speed["torch/train_rays_per_s"] > 0 and speed["torch/render_fps"] > 0 and speed["portrait/render_fps"] > 0
    moda = checks["moda_speed"]["metrics"]  # section 4
    assert moda["renderer/fps"] > 0 and moda["motion/wav2vec2_realtime_factor"] > 0 and moda["faconet/frames_per_s"] > 0
    assert moda["lpips/device_vs_cpu_max_rel_error"] == 0.0  # the same device: bit-identical
    splat = checks["talkinggaussian_speed"]["metrics"]  # section 6: the torch rasteriser; gsplat is CUDA-only
    assert splat["torch/train_steps_per_s"] > 0 and splat["torch/render_fps"] > 0 and splat["gaussians_face"] > 0
    assert splat["gsplat_available"] is False and splat["gsplat_version"] == kit_version("gsplat")
    machine = report["machine"]  # section 5
    assert machine["torch"] == torch.__version__ and machine["cuda_available"] is False
    assert Path(machine["talkzoo_imported_from"]).parts[-2:] == ("stage", "talkzoo"), "the staged checkout, no build"
    assert report["setup"]["refused_imports"] == ", ".join(kit.NOT_ON_GPU_MACHINE)
    assert all(c.get("refused_imports", []) == [] for c in checks.values()), "a check path reached mediapipe/av/W&B"
    markdown = rehearsal["markdown"]
    assert all(f"## {n}." in markdown for n in range(1, 7)) and all(f"### {name}:" in markdown for name in checks)
    assert "gsplat CUDA kernels: NOT available (CUDA is not available)" in markdown


def kit_version(dist: str) -> str:
    """The version constraints.txt pins for `dist` (what the kit ships)."""
    return next(line.split("==")[1] for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line.lower().startswith(dist.lower() + "=="))  # fmt: skip


def test_kit_wheels_are_exactly_what_the_checks_imported(rehearsal: dict[str, Any]) -> None:
    """Measured: the distributions the rehearsal's workers imported that the GPU check machine lacks."""
    checks = rehearsal["report"]["checks"].values()
    imported = set().union(*(set(c.get("imported_missing_distributions") or []) for c in checks))
    assert imported == kit.kit_dists()


# ---------------------------------------------------------------------------------------- static imports
def _module_file(module: str, mapping: dict[str, str]) -> Path | None:
    for name, folder in sorted(mapping.items(), key=lambda item: -len(item[0])):
        if module == name or module.startswith(name + "."):
            base = (
                ROOT / folder / Path(*module[len(name) :].lstrip(".").split(".")) if module != name else ROOT / folder
            )
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
    return None


def _module_level_imports(path: Path, module: str) -> set[str]:
    """Modules imported when `path` is imported: module-level statements (also inside module-level try/if blocks,
    but not `if TYPE_CHECKING:`); `from a import b` yields a and a.b (b may be a submodule)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body])

    visit(ast.parse(path.read_text()).body)
    return found


def _class_paths(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["class_path"]] if isinstance(node.get("class_path"), str) else []
        return own + [p for value in node.values() for p in _class_paths(value)]
    if isinstance(node, list):
        return [p for value in node for p in _class_paths(value)]
    return []


def _static_closure() -> set[str]:
    """Third-party top-level modules imported at module level by the checks' code, transitively through talkzoo."""
    mapping = kit.namespace_mapping(ROOT)
    roots = {f"talkzoo.gpu.checks.{p.stem}" for p in (ROOT / "talkzoo" / "gpu" / "checks").glob("*.py")}
    roots |= {"talkzoo.gpu.child", "talkzoo.pipelines.train", "talkzoo.methods"}
    for path in [*CONFIGS.glob("*.yaml"), *CONFIGS.glob("presets/*.yaml")]:  # every class the checks' configs name
        roots |= {
            m.rpartition(".")[0] for m in _class_paths(yaml.safe_load(path.read_text())) if m.startswith("talkzoo")
        }
    external: set[str] = set()
    seen: set[str] = set()
    todo = sorted(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        if not module.startswith("talkzoo"):
            external.add(module.partition(".")[0])
            continue
        path = _module_file(module, mapping)
        if path is not None:
            todo.extend(_module_level_imports(path, module) - seen)
    return external


def test_check_paths_import_nothing_the_gpu_machine_lacks_at_module_level() -> None:
    external = _static_closure()
    assert {"torch", "lightning", "nerfacc", "numpy"} <= external, "the closure follows the checks' imports"
    assert not external & {*kit.NOT_ON_GPU_MACHINE, "soundfile"}, "imported on use only (absent on the GPU machine)"
    assert set(kit.missing_on_gpu_machine(external)) <= kit.kit_dists(), "module-level imports the kit lacks"
    pins = kit.pinned_versions(ROOT / "constraints.txt")
    assert all(kit.normalise(w.dist) in pins for w in kit.KIT_WHEELS), "each kit wheel has a pinned version"


# ----------------------------------------------------------------------------------- install and staging
def _wheel(folder: Path, dist: str, module: str, version: str = "1.0") -> Path:
    """A minimal pure-Python wheel providing `module` (VALUE = 42)."""
    path = folder / f"{dist}-{version}-py3-none-any.whl"
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{module}.py": "VALUE = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in {**files, f"{info}/RECORD": record}.items():
            archive.writestr(name, text)
    return path


@pytest.mark.parametrize("use_pip", [True, False], ids=["pip", "unpacked"])
def test_kit_wheels_install_without_a_registry(tmp_path: Path, use_pip: bool) -> None:
    probe = _wheel(tmp_path, "talkzoo_kit_probe", "talkzoo_kit_probe")
    present = _wheel(tmp_path, "nerfacc", "nerfacc_impostor")  # installed here already: left alone
    site = tmp_path / "site"
    result = kit.install_wheels([probe, present], site, use_pip=use_pip)
    assert result["installed"] == [probe.name] and "nerfacc" in result["already_present"]
    assert result["method"] == ("pip" if use_pip else "unpacked")
    code = "import importlib.metadata, talkzoo_kit_probe; print(talkzoo_kit_probe.VALUE, importlib.metadata.version('talkzoo_kit_probe'))"  # noqa: E501
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["42", "1.0"], done.stderr
    assert not (site / "nerfacc_impostor.py").exists()


def test_checkout_stages_as_the_talkzoo_package_without_a_build(tmp_path: Path) -> None:
    mapping = kit.namespace_mapping(ROOT)
    assert mapping["talkzoo"] == "talkzoo" and mapping["talkzoo.zoo"] == "zoo" and "talkzoo.configs" in mapping
    stage = tmp_path / "stage"
    kit.stage_package(ROOT, stage)
    kit.stage_package(ROOT, stage)  # again: a stale stage is replaced
    code = (
        "import talkzoo.zoo.rendering.samplers as s, talkzoo.configs as c, talkzoo.gpu.kit as k; from pathlib import"
        " Path; print(s.__file__); print(c.__file__); print(len(list(Path(c.__file__).parent.glob('*.yaml'))))"
    )
    env = {**os.environ, "PYTHONPATH": str(stage)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    samplers, configs, recipes = done.stdout.split()
    assert samplers.startswith(str(stage)) and configs.startswith(str(stage)), "the staged package, not the venv's"
    assert int(recipes) == len(list(CONFIGS.glob("*.yaml")))


# ------------------------------------------------------------------------------------- budget and deadline
def _run(tmp_path: Path, budget: int) -> Any:
    from talkzoo.gpu.runner import Run

    args = argparse.Namespace(budget=budget, device="cpu", out=str(tmp_path / "out"), work=str(tmp_path / "work"))
    args.argv = []
    return Run(args)


def test_a_check_that_overruns_its_budget_is_stopped(tmp_path: Path) -> None:
    run = _run(tmp_path, budget=120)
    started = time.time() - run.profile.budget("sampler") - 1
    (run.results / "_current.json").write_text(json.dumps({"check": "sampler", "started": started}))
    process = run.launch([sys.executable, "-c", "import time; time.sleep(60)"])
    begin = time.monotonic()
    reason = run.watch(process, [CHECKS["sampler"]])
    run.log.close()
    assert reason is not None and "budget" in reason
    assert process.returncode is not None and time.monotonic() - begin < 10


def test_a_worker_stops_between_checks_when_asked(tmp_path: Path) -> None:
    """Once nerfacc is built the runner asks the worker to stop before its next check; those checks come back."""
    run = _run(tmp_path, budget=120)
    run.config_dir = CONFIGS
    leftover = run.run_checks([CHECKS["moda_speed"], CHECKS["gpu_tests"]], yield_when=lambda: True)
    run.log.close()
    assert [s.name for s in leftover] == ["moda_speed", "gpu_tests"] and not run.data["checks"]
    assert (run.results / "_yielded").exists()


def test_the_deadline_skips_what_cannot_start_and_the_report_is_written(tmp_path: Path) -> None:
    from talkzoo.gpu.runner import main

    out = tmp_path / "out"
    no_speaker = str(tmp_path / "none")  # moda_speed needs none; no tiny speaker is synthesised either
    assert (
        main(["--device", "cpu", "--budget", "5", "--only", "moda_speed", "--out", str(out), "--speaker", no_speaker])
        == 1
    )
    report = json.loads((out / "gpu_report.json").read_text())
    assert report["complete"] and report["checks"]["moda_speed"]["status"] == "skipped"
    assert "left of the budget" in report["checks"]["moda_speed"]["error"]
    assert (out / "gpu_report.md").is_file()


# ------------------------------------------------------------------------------------------ loss summary
def test_recipe_summary_judges_finiteness_and_the_loss_trend() -> None:
    from talkzoo.gpu.checks.common import Outcome
    from talkzoo.gpu.checks.probe import TrainingProbe
    from talkzoo.gpu.checks.recipes import TREND_BATCHES, summarise

    def probe(values: list[float], scales: list[float] | None = None) -> TrainingProbe:
        p = TrainingProbe()
        p.steps = [{"loss": v, "metrics": {"train/l1": v, "train/loss": 2 * v}, "scale": s}
                   for v, s in zip(values, scales or [None] * len(values), strict=True)]  # fmt: skip
        p.params_finite, p.seconds, p.precision = True, 1.0, "16-mixed"
        p.initial_scale = 65536.0 if scales else None
        return p

    def verdicts(p: TrainingProbe) -> dict[str, bool]:
        outcome = Outcome()
        summarise(outcome, p, "16-mixed")
        return {c["name"]: c["passed"] for c in outcome.criteria}

    falling = [1.0 - 0.05 * i for i in range(TREND_BATCHES)]
    scales = [32768.0] * 3 + [16384.0] * (TREND_BATCHES - 3)
    assert verdicts(probe(falling, scales)) == {
        "16-mixed: no inf/NaN": True, "16-mixed: trained ≥ 2 batches": True, "16-mixed: train/l1 goes down": True
    }  # fmt: skip
    assert probe(falling, scales).scale_drops() == 2  # 65536 → 32768 → 16384: two skipped steps
    assert not verdicts(probe(falling[::-1]))["16-mixed: train/l1 goes down"]
    assert not verdicts(probe([*falling[:-1], math.nan]))["16-mixed: no inf/NaN"]
    assert "16-mixed: train/l1 goes down" not in verdicts(probe(falling[:4])), "too few batches to judge a trend"


# ---------------------------------------------------------------------------------- fp16 mixed precision
def test_ernerf_head_training_step_is_finite_under_fp16_autocast_with_loss_scaling(tiny_speaker: Path) -> None:
    """16-mixed's recipe on CPU (fp16 autocast + GradScaler; CPU autocast casts fewer ops than CUDA's): the
    uncertainty, ambient and entropy terms, the truncated exp and the compositing stay finite, and the loss falls."""
    from talkzoo.datamodules.frames import FrameDataModule
    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.lightning_modules.ernerf_head import ERNeRFHead
    from talkzoo.zoo.ernerf import HeadField
    from talkzoo.zoo.rendering import GridSampler

    torch.manual_seed(0)
    data = FrameDataModule(str(tiny_speaker), num_workers=0, shuffle=False)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    field = HeadField(audio_in=80, levels=4, base_resolution=16, finest_resolution=64, log2_hashmap_size=12)
    module = ERNeRFHead(field, GridSampler(resolution=16, n_samples=16, backend="torch"), cpu_rays_per_step=1024)
    module.set_box_scale(Speaker(tiny_speaker).canonical.mean(axis=0))
    module.log_dict = lambda *args, **kwargs: None  # type: ignore[method-assign]  # no Trainer attached
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-2, betas=(0.0, 0.99))
    scaler = torch.amp.GradScaler("cpu")
    losses = []
    for step in range(30):
        with torch.autocast("cpu", dtype=torch.float16):
            loss = module.training_step(batch, step)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(float(loss.detach()))
    assert all(math.isfinite(v) for v in losses), losses
    assert all(bool(torch.isfinite(p).all()) for p in module.parameters())
    assert sum(losses[-5:]) < sum(losses[:5]), losses

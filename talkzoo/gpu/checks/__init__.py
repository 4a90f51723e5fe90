"""The GPU checks, by report section. Stdlib only here (the runner reads this before torch is importable); each
check's code lives in its own module and runs in a child process (`talkzoo.gpu.child`).

A check function takes (CheckContext, CheckSpec) and returns an `Outcome` (talkzoo.gpu.checks.common): its
measurements and its pass/fail criteria. One recipe of configs/ is one check, `recipe.<name>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SECTIONS = {
    1: "nerfacc marching vs the torch sampler (pytest -m gpu, extended)",
    2: "every recipe in configs/ in mixed precision",
    3: "ER-NeRF head speed",
    4: "MODA speed and LPIPS",
    5: "the machine",
    6: "TalkingGaussian speed: gsplat vs the torch rasteriser",
    7: "live streaming: `talkzoo serve`'s schedule for ER-NeRF and MODA (no WebRTC)",
}


@dataclass(frozen=True)
class CheckSpec:
    """name; report section; one-line title; target "module:function" (or "pytest"); whether it wants nerfacc's
    CUDA extension built first; whether it reads the speaker; whether it wants gsplat's CUDA kernels built first."""

    name: str
    section: int
    title: str
    target: str
    needs_nerfacc: bool
    needs_speaker: bool
    needs_gsplat: bool = False

    @property
    def needs_build(self) -> bool:
        return self.needs_nerfacc or self.needs_gsplat


CHECKS: dict[str, CheckSpec] = {
    spec.name: spec
    for spec in (
        CheckSpec("gpu_tests", 1, "the test suite's GPU tests (pytest -m gpu)", "pytest", True, False, True),
        CheckSpec(
            "sampler", 1, "trained head: nerfacc vs torch sampler, packed vs batched compositing",
            "talkzoo.gpu.checks.sampler:run", True, True,
        ),
        CheckSpec(
            "ernerf_speed", 3, "ER-NeRF head training rays/s and render fps, full portrait fps",
            "talkzoo.gpu.checks.ernerf_speed:run", True, False,
        ),
        CheckSpec(
            "moda_speed", 4, "MODA renderer fps, audio → motion, FaCo-Net throughput, LPIPS",
            "talkzoo.gpu.checks.moda_speed:run", False, False,
        ),
        CheckSpec(
            "talkinggaussian_speed", 6, "TalkingGaussian training steps/s and render fps, gsplat vs torch",
            "talkzoo.gpu.checks.talkinggaussian_speed:run", False, False, True,
        ),
        CheckSpec(
            "streaming", 7, "ER-NeRF and MODA streamed on the serve schedule: fps, latency p50 / p95",
            "talkzoo.gpu.checks.streaming:run", True, True,
        ),
    )
}  # fmt: skip

RECIPE_TARGET = "talkzoo.gpu.checks.recipes:run"


def _run_name(name: str, text: str) -> str:
    """The run folder a recipe writes (the last part of its trainer.default_root_dir; the recipe name if unset)."""
    match = re.search(r"default_root_dir:\s*([^\s#]+)", text)
    return match.group(1).rstrip("/").split("/")[-1] if match else name


def recipe_checks(config_dir: Path) -> list[CheckSpec]:
    """One check per training recipe (configs/*.yaml), a recipe after those whose runs it reads (the ER-NeRF torso
    names `runs/ernerf_head/...`). Recipes with an occupancy-grid sampler, or reading such a run, run after
    nerfacc's CUDA extension is built; TalkingGaussian's after gsplat's."""
    texts = {path.stem: path.read_text() for path in sorted(config_dir.glob("*.yaml"))}
    runs = {name: _run_name(name, text) for name, text in texts.items()}
    deps = {a: {b for b in texts if b != a and f"runs/{runs[b]}/" in texts[a]} for a in texts}
    order: list[str] = []
    while len(order) < len(texts):
        ready = [n for n in texts if n not in order and deps[n] <= set(order)]
        order.append(ready[0] if ready else next(n for n in texts if n not in order))  # a cycle: keep going
    nerf: dict[str, bool] = {}
    splat: dict[str, bool] = {}
    for name in order:
        nerf[name] = "GridSampler" in texts[name] or any(nerf.get(d, False) for d in deps[name])
        splat[name] = "TalkingGaussian" in texts[name] or any(splat.get(d, False) for d in deps[name])
    return [CheckSpec(f"recipe.{n}", 2, f"recipe {n}", RECIPE_TARGET, nerf[n], True, splat[n]) for n in order]


def spec_for(name: str, config_dir: Path) -> CheckSpec:
    if name in CHECKS:
        return CHECKS[name]
    for spec in recipe_checks(config_dir):
        if spec.name == name:
            return spec
    raise KeyError(f"unknown check {name!r}")

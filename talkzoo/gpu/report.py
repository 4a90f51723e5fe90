"""gpu_report.json (everything) and gpu_report.md (the same for people) of a GPU check run. Stdlib only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from talkzoo.gpu.checks import SECTIONS

JSON_NAME = "gpu_report.json"
MD_NAME = "gpu_report.md"
_MACHINE_KEYS = ("gpu", "driver", "compute_capability", "gpu_memory_gib", "torch", "torch_cuda", "cudnn", "nvcc",
                 "ninja", "python", "cpu_count", "bf16_supported", "platform", "talkzoo_imported_from")  # fmt: skip


def write(out: Path, data: dict[str, Any]) -> None:
    """Write both files into `out` (atomically each, so a reader never sees half a report)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in ((JSON_NAME, json.dumps(data, indent=1, default=str)), (MD_NAME, markdown(data))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(out / name)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if value is None:
        return "–"
    return str(value).replace("|", "/").replace("\n", " ")


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_value(v) for v in row) + " |" for row in rows]
    return lines + [""]


def markdown(data: dict[str, Any]) -> str:
    machine = data.get("machine") or {}
    checks: dict[str, dict[str, Any]] = data.get("checks") or {}
    summary = data.get("summary") or {}
    lines = [
        "# talkzoo GPU check report",
        "",
        f"Started {data.get('started')}, device `{data.get('device')}` (profile `{data.get('profile')}`), "
        f"{_value(data.get('wall_s'))} s of a {data.get('budget_s')} s budget; "
        f"{'complete' if data.get('complete') else 'INCOMPLETE (the run was cut short)'}.",
        "Checks: " + ", ".join(f"{k} {v}" for k, v in summary.items()) + ".",
        "",
        "## Checks",
        "",
    ]
    lines += _table(
        [(name, c.get("section"), c.get("status"), c.get("wall_s"), c.get("title", "")) for name, c in checks.items()],
        ("check", "section", "status", "wall s", "what"),
    )
    lines += [f"## 5. {SECTIONS[5]}", ""]
    lines += _table([(k, machine.get(k)) for k in _MACHINE_KEYS if k in machine], ("", ""))
    setup = data.get("setup") or {}
    lines += ["Setup: " + "; ".join(f"{k}: {_value(v)}" for k, v in setup.items() if not isinstance(v, dict)), ""]
    builds = {"nerfacc CUDA extension": data.get("nerfacc_build"), "gsplat CUDA kernels": data.get("gsplat_build")}
    for section in (1, 2, 3, 4, 6, 7):
        lines += [f"## {section}. {SECTIONS[section]}", ""]
        for what, build in builds.items() if section == 1 else ():
            if build:
                lines += [
                    f"{what}: {'available' if build.get('available') else 'NOT available'} "
                    f"({build.get('reason')}); build {_value(build.get('seconds'))} s.",
                    "",
                ]
        for name, check in checks.items():
            if check.get("section") != section:
                continue
            lines += [f"### {name}: {check.get('status')}", ""]
            if check.get("error"):
                lines += ["```", str(check["error"])[:1500], "```", ""]
            criteria = check.get("criteria") or []
            if criteria:
                lines += _table([("✓" if c["passed"] else "✗", c["name"], c["detail"]) for c in criteria],
                                ("", "criterion", "detail"))  # fmt: skip
            metrics = check.get("metrics") or {}
            if metrics:
                lines += _table(list(metrics.items()), ("metric", "value"))
            for note in check.get("notes") or []:
                lines += [f"- {note}"]
            for part, error in (check.get("errors") or {}).items():
                lines += [f"- error in {part}: {error.splitlines()[0][:300]}"]
            lines += [""]
    return "\n".join(lines) + "\n"

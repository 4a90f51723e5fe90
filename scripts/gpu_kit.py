"""`make gpu-kit`: build the GPU verification kit `.gpu_kit/` (ignored by git, ≤ 60 MiB) and print the one command
that runs every GPU check on a machine with a CUDA GPU (docs/gpu.md).

    python scripts/gpu_kit.py [--kit .gpu_kit] [--seconds 4] [--size 512] [--skip-wheels] [--skip-speaker]

The kit holds
- wheels/: for CPython 3.12 on manylinux x86-64, exactly the packages the checks import that the GPU check machine
  lacks (talkzoo.gpu.kit.KIT_WHEELS, at the versions pinned in constraints.txt), fetched with `pip download
  --no-deps --only-binary=:all:` (a registry is needed here, never there);
- speaker/: a pre-made synthetic speaker at 512² (`talkzoo synth` + `talkzoo preprocess`, mel features), so the
  GPU machine, which has neither MediaPipe nor PyAV, never preprocesses;
- manifest.json: what is inside (files, versions, sizes, sha256), when and from which commit it was built.
Re-running reuses what is already there and up to date.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # talkzoo.gpu.kit is stdlib-only and importable from the checkout itself

from talkzoo.gpu import kit  # noqa: E402

PLATFORMS = ("manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_24_x86_64", "manylinux_2_27_x86_64",
             "manylinux_2_28_x86_64", "manylinux_2_31_x86_64", "manylinux_2_34_x86_64", "manylinux_2_35_x86_64",
             "manylinux1_x86_64")  # fmt: skip
RUN_TIMEOUT_S = 540  # the check's own budget is 480 s; the rest covers Python start-up and the transfers


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def fetch_wheels(folder: Path) -> list[dict[str, object]]:
    """Download each kit wheel at its pinned version (skipped when that file is already there); stale versions of a
    kit distribution are removed, so the folder holds exactly one wheel per distribution."""
    pins = kit.pinned_versions(ROOT / "constraints.txt")
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {kit.normalise(w.dist) for w in kit.KIT_WHEELS}
    for stray in folder.glob("*.whl"):
        if kit.wheel_dist(stray) not in wanted:
            stray.unlink()
    entries = []
    for wheel in kit.KIT_WHEELS:
        name = kit.normalise(wheel.dist)
        version = pins.get(name)
        if version is None:
            raise SystemExit(f"constraints.txt pins no version of {wheel.dist}; add it (the kit uses the pinned set)")
        have = [w for w in folder.glob("*.whl") if kit.wheel_dist(w) == name]
        current = [w for w in have if w.name.split("-")[1] == version]
        for old in set(have) - set(current):
            old.unlink()
        if not current:
            command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                       "--only-binary=:all:", "--python-version", kit.PYTHON_TAG, "--implementation", "cp",
                       "--dest", str(folder), f"{wheel.dist}=={version}"]  # fmt: skip
            for platform in PLATFORMS:
                command[-3:-3] = ["--platform", platform]
            print(f"gpu-kit: pip download {wheel.dist}=={version}", flush=True)
            subprocess.run(command, check=True)
            current = [w for w in folder.glob("*.whl") if kit.wheel_dist(w) == name]
        path = current[0]
        entries.append({"file": path.name, "dist": wheel.dist, "version": version, "bytes": path.stat().st_size,
                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "why": wheel.why})  # fmt: skip
    return entries


def _talkzoo(*args: str) -> None:
    print(f"gpu-kit: talkzoo {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "talkzoo.cli", *args], check=True)


def build_speaker(folder: Path, seconds: float, size: int) -> dict[str, object]:
    """A synthetic talking video (`talkzoo synth`) preprocessed like a user's video (`talkzoo preprocess`, mel
    features) into `folder`; reused when its size and length already match."""
    meta_path = folder / "speaker.json"
    frames = round(seconds * 25)
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("width") == size and meta.get("num_frames") == frames:
            print(f"gpu-kit: reusing the speaker in {folder}", flush=True)
            return {"size": size, "seconds": seconds, "frames": frames, "bytes": folder_bytes(folder)}
    build = folder.parent / "_build"
    shutil.rmtree(build, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    _talkzoo("synth", str(build / "synth"), "--seconds", str(seconds), "--size", str(size), "--seed", "0")
    _talkzoo("preprocess", str(build / "synth" / "raw.mp4"), str(build / "speaker"), "--size", str(size),
             "--features", "mel", "--quiet")  # fmt: skip
    _talkzoo("validate", str(build / "speaker"))
    (build / "speaker").rename(folder)
    shutil.rmtree(build)
    return {"size": size, "seconds": seconds, "frames": frames, "bytes": folder_bytes(folder)}


def invocation(kit_dir: Path) -> str:
    relative = kit_dir.relative_to(ROOT) if kit_dir.is_relative_to(ROOT) else kit_dir
    command = f"PYTHONUNBUFFERED=1 python3 -m talkzoo.gpu --kit {relative}"
    return "\n".join([
        "On the GPU check machine (the device tool), one call, from the checkout's root:",
        f'  run(command="{command}", carry=["{relative}"], timeout_s={RUN_TIMEOUT_S})',
        "It writes gpu_report.json, gpu_report.md and gpu_check.log into $OUT within 480 s (--budget).",
        "A targeted rerun on the still-warm machine (names from the report's check table):",
        f"  {command} --only sampler,ernerf_speed --budget 200",
        "On your own CUDA machine: `make gpu-check` in this checkout (docs/gpu.md).",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kit", default=str(ROOT / kit.KIT_DIR), help="kit folder (default .gpu_kit)")
    parser.add_argument("--seconds", type=float, default=4.0, help="speaker length in seconds (default 4)")
    parser.add_argument("--size", type=int, default=512, help="speaker frame size (default 512)")
    parser.add_argument("--skip-wheels", action="store_true")
    parser.add_argument("--skip-speaker", action="store_true")
    args = parser.parse_args(argv)
    kit_dir = Path(args.kit).resolve()
    kit_dir.mkdir(parents=True, exist_ok=True)
    manifest = kit.read_manifest(kit_dir) or {}
    if not args.skip_wheels:
        manifest["wheels"] = fetch_wheels(kit_dir / kit.WHEELS_DIR)
    if not args.skip_speaker:
        manifest["speaker"] = build_speaker(kit_dir / kit.SPEAKER_DIR, args.seconds, args.size)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    total = folder_bytes(kit_dir) - (
        (kit_dir / kit.MANIFEST).stat().st_size if (kit_dir / kit.MANIFEST).exists() else 0
    )
    manifest.update(built=datetime.now(timezone.utc).isoformat(timespec="seconds"), commit=commit or None,
                    uncommitted_changes=bool(dirty), python_tag=kit.PYTHON_TAG, total_bytes=total)  # fmt: skip
    (kit_dir / kit.MANIFEST).write_text(json.dumps(manifest, indent=1))
    if total > kit.SIZE_LIMIT_BYTES:
        raise SystemExit(f"gpu-kit: {kit_dir} is {mib(total)}, over {mib(kit.SIZE_LIMIT_BYTES)}; use --seconds 3")
    wheels = sum(int(w["bytes"]) for w in manifest.get("wheels", []))
    speaker = manifest.get("speaker") or {}
    print(
        f"\nThe GPU kit is ready: {kit_dir} ({mib(total)}: {len(manifest.get('wheels', []))} wheels {mib(wheels)}, "
        f"speaker {speaker.get('size')}² × {speaker.get('frames')} frames {mib(int(speaker.get('bytes', 0)))})."
    )
    print(invocation(kit_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The GPU verification kit: one folder (`.gpu_kit/`, built here by `make gpu-kit`) + one command
(`python3 -m talkzoo.gpu`, i.e. `make gpu-check`). docs/gpu.md says how to use it.

This module is stdlib-only: the runner imports it on the GPU check machine before talkzoo's dependencies are
importable (the missing ones travel as wheels) and before talkzoo's namespace exists there (talkzoo is not installed
on that machine; `stage_package` lays the checkout out as the `talkzoo` package with symlinks, no build step).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KIT_DIR = ".gpu_kit"
WHEELS_DIR = "wheels"
SPEAKER_DIR = "speaker"
MANIFEST = "manifest.json"
SIZE_LIMIT_BYTES = 60 * 2**20  # the kit travels with the checkout; 64 MiB in all for the GPU check machine
PYTHON_TAG = "3.12"  # the GPU check machine's Python


@dataclass(frozen=True)
class KitWheel:
    """A distribution the checks import that the GPU check machine lacks: name (as in constraints.txt), the
    top-level modules it provides, and which code path needs it."""

    dist: str
    modules: tuple[str, ...]
    why: str


KIT_WHEELS: tuple[KitWheel, ...] = (
    KitWheel("nerfacc", ("nerfacc",), "talkzoo.zoo.rendering: the occupancy grid, marching, compositing"),
    KitWheel("gsplat", ("gsplat",), "zoo.talkinggaussian: the CUDA rasteriser (its CUDA sources, built on first use)"),
    KitWheel("jsonargparse", ("jsonargparse",), "LightningCLI (talkzoo fit) and run loading (run_loading)"),
    KitWheel("docstring_parser", ("docstring_parser",), "jsonargparse[signatures], which LightningCLI requires"),
    KitWheel("typeshed_client", ("typeshed_client",), "jsonargparse[signatures], which LightningCLI requires"),
    KitWheel("omegaconf", ("omegaconf",), "LightningCLI's parser_mode 'omegaconf' (talkzoo.pipelines.train)"),
    KitWheel("soundfile", ("soundfile", "_soundfile", "_soundfile_data"), "speaker validation reads audio.wav"),
    KitWheel("cffi", ("_cffi_backend", "cffi"), "soundfile's binding to libsndfile"),
)

# Absent on the GPU check machine and never needed by the checks: the CPU rehearsal refuses to import them, so a
# code path that reaches one fails here first (mediapipe, PyAV: preprocessing and video I/O; W&B: a logger).
NOT_ON_GPU_MACHINE: tuple[str, ...] = ("mediapipe", "av", "wandb", "kornia")

# The Python distributions installed on the GPU check machine's image (Python 3.12, torch 2.11 + CUDA 13), as
# listed for that image in 2026-11 (normalised names). Everything else the checks import must travel as a wheel.
GPU_MACHINE_PACKAGES: frozenset[str] = frozenset({
    "absl-py", "accelerate", "aiofiles", "aiohappyeyeballs", "aiohttp", "aiosignal", "annotated-doc", "anyio",
    "attrs", "botorch", "build", "certifi", "charset-normalizer", "chex", "click", "cloudpickle", "cmake",
    "colorama", "contourpy", "coverage", "cuda-bindings", "cuda-core", "cuda-pathfinder", "cuda-toolkit",
    "cupy-cuda13x", "cycler", "cython", "diffrax", "e3nn", "einops", "equinox", "etils", "execnet",
    "filelock", "flatbuffers", "flax", "fonttools", "formulaic", "frozenlist", "fsspec", "gpytorch", "grpcio",
    "h11", "h5py", "hf-xet", "httpcore", "httpx", "huggingface-hub", "humanize", "hypothesis", "idna",
    "imageio", "iniconfig", "interface-meta", "jax", "jax-cuda13-pjrt", "jax-cuda13-plugin", "jaxlib",
    "jaxtyping", "jinja2", "joblib", "kiwisolver", "lazy-loader", "lightning", "lightning-utilities",
    "linear-operator", "lineax", "llvmlite", "lxml", "markdown", "markdown-it-py", "markupsafe", "matplotlib",
    "mdurl", "meson", "ml-dtypes", "mpi4py", "mpmath", "msgpack", "multidict", "multipledispatch",
    "mypy-extensions", "nanobind", "narwhals", "networkx", "ninja", "numba", "numba-cuda", "numpy", "numpyro",
    "nvidia-cublas", "nvidia-cuda-cupti", "nvidia-cuda-nvrtc", "nvidia-cuda-runtime", "nvidia-cudnn-cu13",
    "nvidia-cufft", "nvidia-cufile", "nvidia-curand", "nvidia-cusolver", "nvidia-cusparse",
    "nvidia-cusparselt-cu13", "nvidia-ml-py", "nvidia-nccl-cu13", "nvidia-nvjitlink", "nvidia-nvshmem-cu13",
    "nvidia-nvtx", "onnx", "onnx-ir", "onnxruntime", "onnxscript", "opencv-python-headless", "opt-einsum",
    "opt-einsum-fx", "optax", "optimistix", "orbax-checkpoint", "packaging", "pandas", "pathspec", "patsy",
    "peft", "pillow", "pip", "pluggy", "portalocker", "prometheus-client", "propcache", "protobuf", "psutil",
    "py-cpuinfo", "pyarrow", "pybind11", "pygments", "pyparsing", "pyproject-hooks", "pyre-extensions",
    "pytest", "pytest-benchmark", "pytest-cov", "pytest-mock", "pytest-timeout", "pytest-xdist",
    "python-dateutil", "pytorch-lightning", "pyyaml", "regex", "requests", "rich", "sacrebleu", "safetensors",
    "scikit-build-core", "scikit-image", "scikit-learn", "scipy", "seaborn", "sentence-transformers",
    "sentencepiece", "setuptools", "shellingham", "simplejson", "six", "sortedcontainers", "statsmodels",
    "sympy", "tabulate", "tensorboard", "tensorboard-data-server", "tensorstore", "threadpoolctl", "tifffile",
    "tiktoken", "timm", "tokenizers", "toolz", "torch", "torch-geometric", "torchaudio", "torchdiffeq",
    "torchmetrics", "torchvision", "tqdm", "transformers", "treescope", "triton", "typer",
    "typing-extensions", "typing-inspect", "urllib3", "uvloop", "wadler-lindig", "werkzeug", "wheel", "wrapt",
    "xarray", "xxhash", "yarl", "zipp"
})  # fmt: skip


# Top-level modules the GPU check machine provides under another distribution than this machine's (cv2 comes from
# opencv-python-headless there, from opencv-contrib-python here).
GPU_MACHINE_MODULES: frozenset[str] = frozenset({"cv2"})


def normalise(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def kit_dists() -> set[str]:
    return {normalise(w.dist) for w in KIT_WHEELS}


def _requirement_name(requirement: str) -> str | None:
    """The distribution a Requires-Dist line names, None for an optional (extra) requirement."""
    if "extra ==" in requirement or "extra==" in requirement:
        return None
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return normalise(match.group(1)) if match else None


def gpu_machine_closure() -> set[str]:
    """The GPU machine's distributions that are installed here, plus everything they require (transitively): what
    a module of theirs imports is there too (in that machine's versions)."""
    installed = {normalise(d.metadata["Name"]): d for d in importlib.metadata.distributions() if d.metadata["Name"]}
    todo = [name for name in installed if name in GPU_MACHINE_PACKAGES]
    closure = set(todo)
    while todo:
        dist = installed.get(todo.pop())
        for requirement in (dist.requires or []) if dist is not None else []:
            name = _requirement_name(requirement)
            if name and name not in closure:
                closure.add(name)
                todo.append(name)
    return closure


def missing_on_gpu_machine(modules: set[str]) -> list[str]:
    """Distributions providing the top-level `modules` (imported here) that the GPU check machine lacks."""
    providers = importlib.metadata.packages_distributions()
    present = gpu_machine_closure()
    missing: set[str] = set()
    for module in modules:
        if module in sys.stdlib_module_names or module in GPU_MACHINE_MODULES or module.startswith("talkzoo"):
            continue
        dists = {normalise(d) for d in providers.get(module, ())}
        if dists and not dists & present:
            missing |= dists
    return sorted(missing - {"talkzoo"})


def pinned_versions(constraints: Path) -> dict[str, str]:
    """name → version of every `name==version` line of a constraints file (the project's full pinned freeze)."""
    pins = {}
    for line in constraints.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[normalise(name.split("[", 1)[0])] = version.split(";", 1)[0].strip()
    return pins


def wheel_dist(path: Path) -> str:
    """Normalised distribution name of a wheel file (name-version-tags.whl)."""
    return normalise(path.name.split("-", 1)[0])


def read_manifest(kit: Path) -> dict[str, Any] | None:
    path = kit / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


# ------------------------------------------------------------------------------------------------ wheels
def _installed(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def install_wheels(wheels: list[Path], target: Path, force: bool = False, use_pip: bool = True) -> dict[str, Any]:
    """Install the wheels whose distribution this interpreter lacks (all when `force`) into `target`, without a
    registry (`pip install --no-index --no-deps --target`; when pip is missing or fails, the wheels are unpacked
    into `target`, which is what pip does for them). Put `target` first on PYTHONPATH afterwards.

    Returns {"installed": [...], "already_present": {dist: version}, "method": "pip"|"unpacked"|None}."""
    present = {wheel_dist(w): _installed(wheel_dist(w)) for w in wheels}
    todo = [w for w in wheels if force or present[wheel_dist(w)] is None]
    result: dict[str, Any] = {
        "installed": [w.name for w in todo],
        "already_present": {d: v for d, v in present.items() if v is not None and not force},
        "method": None,
        "target": str(target),
    }
    if not todo:
        return result
    target.mkdir(parents=True, exist_ok=True)
    if use_pip:
        command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                   "--no-cache-dir", "--disable-pip-version-check", "--upgrade", "--target", str(target),
                   *map(str, todo)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode == 0:
            result["method"] = "pip"
            return result
        result["pip_error"] = (done.stderr or done.stdout).strip()[-600:]
    for wheel in todo:
        _unpack_wheel(wheel, target)
    result["method"] = "unpacked"
    return result


def _unpack_wheel(wheel: Path, target: Path) -> None:
    """A wheel is a zip of its install tree; NAME.data/{purelib,platlib}/ go to the top (scripts are not needed)."""
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            parts = member.filename.split("/")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                parts = parts[2:]
            destination = target.joinpath(*parts)
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out)


# ------------------------------------------------------------------------------------------- the namespace
def namespace_mapping(root: Path) -> dict[str, str]:
    """import name → repository folder, read from setup.py's NAMESPACE literal (the one definition of the layout)."""
    tree = ast.parse((root / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "NAMESPACE" for t in node.targets):
            mapping = ast.literal_eval(node.value)
            if isinstance(mapping, dict) and mapping.get("talkzoo"):
                return {str(k): str(v) for k, v in mapping.items()}
    raise ValueError(f"{root / 'setup.py'}: no NAMESPACE dict literal mapping import names to folders")


def stage_package(root: Path, target: Path) -> Path:
    """Lay the checkout out as the installed `talkzoo` package under `target` with symlinks (no build, no pip, no
    setuptools): target/talkzoo/ holds links to talkzoo/'s entries and one link per sub-package folder
    (talkzoo.zoo → zoo/, ...). Put `target` first on PYTHONPATH; returns `target`."""
    mapping = namespace_mapping(root)
    package = target / "talkzoo"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    for entry in sorted((root / mapping["talkzoo"]).iterdir()):
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    for name, folder in mapping.items():
        if name == "talkzoo":
            continue
        prefix, _, sub = name.partition(".")
        if prefix != "talkzoo" or not sub or "." in sub:
            raise ValueError(f"setup.py NAMESPACE: {name!r} is not a direct sub-package of talkzoo")
        if (package / sub).exists():
            raise ValueError(f"setup.py NAMESPACE: {name!r} clashes with talkzoo/{sub} in the checkout")
        (package / sub).symlink_to((root / folder).resolve(), target_is_directory=True)
    return target

"""The method registry: every talking-portrait method talkzoo can train and run, as data.

A `Method` names its training stages (each a recipe, a CPU preset and a run folder) and the `Avatar` class that
loads its trained run for inference. The CLI (`talkzoo recipes`, `talkzoo generate --method`), `talkzoo avatar` /
`talkzoo demo`, bench and the recipe tests iterate over `METHODS`; adding a method = its networks in zoo/, its
LightningModule(s), its recipes, its Avatar (talkzoo/avatars/) and one `register(Method(...))` here
(docs/architecture.md).
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talkzoo.zoo.errors import UserError

if TYPE_CHECKING:
    from talkzoo.avatars.base import Avatar


@dataclass(frozen=True)
class Stage:
    """One training stage of a method.

    name: its run folder, RUNS/<name>/ (checkpoints/last.ckpt + the LightningCLI config.yaml).
    recipe: the recipe name (configs/<recipe>.yaml); cpu_preset: the CPU preset's name (configs/presets/).
    overrides: `talkzoo fit` options that bind the stage to a speaker, formatted with {speaker} (the folder),
    {speakers} (a JSON list of it), {runs} (the run root) and {size} (the training resolution; options that
    mention {size} are left out when the size is the speaker's own). summary: one line.
    step_seconds: seconds per optimiser step with the CPU preset at 96², one torch thread beside another lane on
    the 2-core machine (the demo's logs); only orders stages trained in lanes (talkzoo.pipelines.avatar_lanes),
    so a rough figure is enough.
    """

    name: str
    recipe: str
    cpu_preset: str | None
    overrides: tuple[str, ...]
    summary: str
    step_seconds: float = 0.1

    def fit_overrides(self, speaker: str | Path, runs: str | Path, size: int | None = None) -> list[str]:
        """The overrides for one speaker, run root and (optional) training size."""
        values = {"speaker": str(speaker), "speakers": json.dumps([str(speaker)]), "runs": str(runs), "size": size}
        return [o.format(**values) for o in self.overrides if size is not None or "{size}" not in o]

    def run_dir(self, runs: str | Path) -> Path:
        return Path(runs) / self.name

    @property
    def requires(self) -> tuple[str, ...]:
        """Stages whose runs this one reads: those its overrides name as {runs}/<stage>/ (e.g. ER-NeRF's torso
        reads the head's checkpoint), so a scheduler trains them first."""
        return tuple(dict.fromkeys(m for o in self.overrides for m in re.findall(r"\{runs\}/([^/]+)/", o)))

    def checkpoint(self, runs: str | Path) -> Path:
        return self.run_dir(runs) / "checkpoints" / "last.ckpt"


@dataclass(frozen=True)
class Method:
    """A registered method: name, one-line summary, stages in training order, and its Avatar class as
    "module:Class" (imported only when a run is loaded, so `talkzoo --help` stays instant). motion_stages: stages
    of other methods whose motion this method's avatar uses when they are trained (e.g. ER-NeRF's head motion and
    blinks from MODA's motion stage)."""

    name: str
    summary: str
    stages: tuple[Stage, ...]
    avatar: str
    motion_stages: tuple[str, ...] = field(default=())
    paper: str = ""

    def avatar_class(self) -> type[Avatar]:
        module, _, name = self.avatar.partition(":")
        return getattr(importlib.import_module(module), name)

    def load_avatar(self, runs: str | Path, speaker: str | Path, device: str = "cpu", **options: Any) -> Avatar:
        """The trained run RUNS/<stage>/… of this method, for `speaker`, on `device`, as an Avatar."""
        return self.avatar_class().load(Path(runs), Path(speaker), device, **options)


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method to the registry (its name must be new); returns it."""
    if method.name in METHODS:
        raise ValueError(f"a method named {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    """The registered method `name`; UserError listing the names otherwise."""
    if name not in METHODS:
        raise UserError(f"unknown method {name!r}; choose one of {', '.join(METHODS)} (see `talkzoo recipes`)")
    return METHODS[name]


def all_stages() -> dict[str, Stage]:
    """Every stage of every method by stage name (stage names are unique across methods)."""
    return {stage.name: stage for method in METHODS.values() for stage in method.stages}


SIZE = "--data.init_args.size={size}"

register(
    Method(
        name="moda",
        summary="MODA: audio → motion (dual attention) → dense landmarks (FaCo-Net) → portrait renderer",
        paper="Liu et al., MODA: Mapping-Once Audio-driven Portrait Animation with Dual Attentions, ICCV 2023",
        stages=(
            Stage(
                "moda",
                "moda",
                "moda_cpu",
                ("--data.speakers={speakers}",),
                "audio → lips, eyes, head, torso motion",
                step_seconds=0.16,
            ),
            Stage(
                "faconet",
                "faconet",
                "faconet_cpu",
                ("--data.speakers={speakers}",),
                "lips + eyes → the dense 478-point mesh",
                step_seconds=0.14,
            ),
            Stage(
                "renderer",
                "portrait_renderer",
                "portrait_renderer_cpu",
                ("--data.speaker={speaker}", SIZE),
                "landmark drawing + reference → frame",
                step_seconds=0.15,
            ),
        ),  # fmt: skip
        avatar="talkzoo.avatars.moda:MODAAvatar",
    )
)

register(
    Method(
        name="ernerf",
        summary="ER-NeRF: tri-plane hash NeRF with region attention (head), 2-D deformable torso",
        paper="Li et al., Efficient Region-Aware Neural Radiance Fields for High-Fidelity Talking Portrait "
        "Synthesis, ICCV 2023",
        stages=(
            Stage(
                "ernerf_head",
                "ernerf_head",
                "ernerf_head_cpu",
                ("--data.speaker={speaker}", SIZE),
                "audio + pose → the head (volume rendering)",
                step_seconds=0.062,
            ),
            Stage(
                "ernerf_torso",
                "ernerf_torso",
                "ernerf_torso_cpu",
                (
                    "--data.speaker={speaker}",
                    SIZE,
                    "--model.init_args.head_checkpoint={runs}/ernerf_head/checkpoints/last.ckpt",
                ),
                "pose → the torso layer under the frozen head",
                step_seconds=0.04,
            ),
        ),  # fmt: skip
        avatar="talkzoo.avatars.ernerf:ERNeRFAvatar",
        motion_stages=("moda",),
    )
)

register(
    Method(
        name="talkinggaussian",
        summary="TalkingGaussian: deformable 3-D Gaussians, face and inside-mouth branches, fused over the torso",
        paper="Li et al., TalkingGaussian: Structure-Persistent 3D Talking Head Synthesis via Gaussian Splatting, "
        "ECCV 2024",
        stages=(
            Stage(
                "talkinggaussian_mouth",
                "talkinggaussian_mouth",
                "talkinggaussian_mouth_cpu",
                ("--data.speaker={speaker}", SIZE),
                "audio → the inside of the mouth (Gaussians, position offsets)",
                step_seconds=0.14,
            ),
            Stage(
                "talkinggaussian_face",
                "talkinggaussian_face",
                "talkinggaussian_face_cpu",
                ("--data.speaker={speaker}", SIZE),
                "audio + blink → the face (Gaussians, position/rotation/scale offsets)",
                step_seconds=0.23,
            ),
            Stage(
                "talkinggaussian_fuse",
                "talkinggaussian_fuse",
                "talkinggaussian_fuse_cpu",
                (
                    "--data.speaker={speaker}",
                    SIZE,
                    "--model.init_args.face_checkpoint={runs}/talkinggaussian_face/checkpoints/last.ckpt",
                    "--model.init_args.mouth_checkpoint={runs}/talkinggaussian_mouth/checkpoints/last.ckpt",
                ),
                "face → mouth → torso over background: colours and face opacity refined",
                step_seconds=0.2,
            ),
        ),  # fmt: skip
        avatar="talkzoo.avatars.talkinggaussian:TalkingGaussianAvatar",
        motion_stages=("moda",),
    )
)

"""`talkzoo demo`: `talkzoo avatar` on the embedded synthetic speaker — offline, resumable, no special cases.

1. synthesise a talking video (`talkzoo synth`: a real face photo animated by the bundled speech, with its exact
   ground truth) → OUT/synth/raw.mp4, as the budget's `demo:` section describes it (length, size, style);
2. `talkzoo avatar OUT/synth/raw.mp4 --out OUT --budget NAME --val-seconds S`: the same code a user's video runs
   (talkzoo.pipelines.avatar): preprocess, train every method, generate from the held-out audio, evaluate, report.

    talkzoo demo            # the `cpu` budget: configs/budgets/cpu.yaml
    talkzoo demo --fast     # the `fast` budget
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from talkzoo.pipelines.avatar import run_avatar
from talkzoo.pipelines.avatar_budget import Budget, DemoVideo, load_budget
from talkzoo.pipelines.console import clock, quiet_output
from talkzoo.zoo.errors import UserError


def synthesize_video(folder: Path, demo: DemoVideo, progress: bool = True) -> tuple[Path, bool]:
    """The synthetic talking video folder/raw.mp4 (+ its ground truth folder/speaker: the arrays, and the images when
    `demo.truth_images`); reused when a finished one with the same parameters (and the images, if wanted) is there.
    → (raw.mp4, whether it was made now)."""
    from talkzoo.datamodules.speaker import Speaker, SpeakerFormatError
    from talkzoo.datamodules.synthetic import synthesize

    wanted = {"seconds": demo.seconds, "size": demo.size, "seed": demo.seed, "style": demo.style}
    video = folder / "raw.mp4"
    try:
        done = Speaker(folder / "speaker").meta.provenance.get("synth", {})
        params = done.get("params", {})
        has_wanted_images = params.get("images", True) or not demo.truth_images
        same = {k: params.get(k, "easy") for k in wanted} == wanted
        if done.get("done") and video.is_file() and has_wanted_images and same:
            return video, False
    except (SpeakerFormatError, FileNotFoundError, OSError):
        pass
    synthesize(folder, seconds=demo.seconds, size=demo.size, seed=demo.seed, progress=progress, style=demo.style,
               images=demo.truth_images)  # fmt: skip
    return video, True


def run_demo(
    out: str | Path = "outputs/demo",
    fast: bool = False,
    budget: str | Path | Budget | None = None,
    methods: Sequence[str] | None = None,
    verbose: bool = False,
    progress: bool = True,
    pictures: str | Path | None = None,
) -> dict[str, Any]:
    """Synthesise the demo video, then `run_avatar` on it; returns its metrics (also out/metrics.json).

    budget: a name or file (default: fast with `fast`, else cpu); it needs a `demo:` section (the video to make).
    """
    plan = budget if isinstance(budget, Budget) else load_budget(budget or ("fast" if fast else "cpu"))
    if plan.demo is None:
        raise UserError(f"budget {plan.path} has no `demo:` section (seconds, size, style of the synthetic video)")
    out = Path(out)
    demo = plan.demo
    started = time.perf_counter()
    with quiet_output(out / "logs" / "avatar.log", verbose):
        print(f"[synth] a {demo.seconds:g} s, {demo.size}² synthetic talking video ({demo.style} style) → "
              f"{out / 'synth' / 'raw.mp4'}", flush=True)  # fmt: skip
        video, made = synthesize_video(out / "synth", demo, progress)
        took = time.perf_counter() - started
        print(f"      {'done' if made else 'reusing it'} in {clock(took)}", flush=True)
    return run_avatar(video, out, methods, plan, val_seconds=demo.val_seconds, verbose=verbose, progress=progress,
                      pictures=pictures, spent={"synth": took})  # fmt: skip

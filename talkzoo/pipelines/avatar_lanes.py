"""Training a budget's stages side by side (`lanes:` in a budget file; README, "talkzoo demo", has the figures).

Small CPU models use a second core poorly: on 2 cores a MODA step takes 1.15× as long with one torch thread as with
two, a renderer batch 1.25×. So `talkzoo avatar` with `lanes: 2` trains two stages at once, each in its own spawned
process, the torch threads shared between the busy lanes (one each on 2 cores; with the budget's `share_threads:
true` a stage left to train alone gets both back, at a moment that depends on timing — the `cpu` budget keeps one
each, so that its runs are the same to the bit). A stage starts when a lane is free and the stages it reads are
trained (`Stage.requires`: ER-NeRF's torso after its head), the longest first: the ready stage whose estimated time
(steps × `Stage.step_seconds`) plus that of the longest chain of stages waiting for it is largest, so the long
renderer does not start last behind short stages (`longest_chain_first`). Each lane's progress comes back over a
queue and shows as one bar per running stage. A failing stage stops the scheduling, lets the other lane's stage
finish (its checkpoints are kept) and raises its error; a re-run resumes. The full demo on 2 cores (MODA 1200 steps
then): 11:47 one stage after the other, 6:52–8:27 in two lanes in the registry's order; with MODA 300 steps and the
longest chain first 7:21–8:07.
"""

from __future__ import annotations

import math
import multiprocessing
import queue as queue_module
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import lightning as L
from tqdm import tqdm

from talkzoo.methods import Stage, all_stages
from talkzoo.pipelines.avatar_budget import StageBudget
from talkzoo.pipelines.console import Console, clock

PROGRESS_EVERY_S = 0.5
_LANE: dict[str, Any] = {}  # in a lane process: the scheduler's queue, its busy-lane counter, the threads to share


class Lane(L.Callback):
    """In a lane process, every 0.5 s: (stage, step, max_steps) onto the scheduler's queue (when it shows
    progress), and — when the budget shares threads — torch's threads set to the threads to share // the lanes busy
    now, so that a stage left to train alone (ER-NeRF's torso once the other lane is done; TalkingGaussian's face
    while its fuse stage waits for it) gets both cores back. Without sharing, every stage keeps threads // lanes:
    its result is then the same to the bit in every run."""

    def __init__(self) -> None:
        super().__init__()
        self._last = 0.0

    def _tick(self, trainer: L.Trainer, force: bool = False) -> None:
        import torch

        now = time.monotonic()
        if not _LANE or (not force and now - self._last < PROGRESS_EVERY_S):
            return
        self._last = now
        threads = lane_threads(_LANE["threads"], _LANE["busy"].value, _LANE["fixed"])
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        if _LANE["progress"] and trainer.global_rank == 0:
            total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
            _LANE["queue"].put((Path(trainer.default_root_dir).name, int(trainer.global_step), total))

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._tick(trainer, force=True)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._tick(trainer)


def lane_threads(shared: int, busy: int, fixed: int | None) -> int:
    """torch threads of a lane's stage: `fixed` when the budget does not share threads, else the threads to share
    // the lanes busy now (at least 1)."""
    return fixed if fixed is not None else max(1, shared // max(1, busy))


def _start_lane(queue: Any, busy: Any, threads: int, fixed: int | None, progress: bool, quiet: bool) -> None:
    """Lane process initialiser: what `Lane` reads, and (unless verbose) Lightning's info lines off (file
    descriptor 2 is the parent's, already pointed at the log by quiet_output)."""
    import logging

    import torch

    from talkzoo.pipelines.console import LIGHTNING_LOGGERS

    _LANE.update(queue=queue, busy=busy, threads=threads, fixed=fixed, progress=progress)
    torch.set_num_threads(lane_threads(threads, busy.value, fixed))
    if quiet:
        for name in LIGHTNING_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def _train_in_lane(name: str, share: StageBudget, speaker: str, runs: str, size: int) -> str:
    from talkzoo.pipelines.avatar import fit_stage

    lane = ("talkzoo.pipelines.avatar_lanes.Lane",)
    return fit_stage(all_stages()[name], share, Path(speaker), Path(runs), size, False, lane)


def chain_seconds(stage: Stage, pending: Sequence[Stage], shares: dict[str, StageBudget]) -> float:
    """Estimated seconds from starting `stage` to the end of the longest chain of `pending` stages that wait for
    it (steps × step_seconds each; infinite for a stage on its recipe's own schedule)."""
    share = shares[stage.name]
    own = math.inf if share.steps is None else share.steps * stage.step_seconds
    after = [s for s in pending if stage.name in s.requires]
    return own + max((chain_seconds(s, pending, shares) for s in after), default=0.0)


def longest_chain_first(pending: Sequence[Stage], done: set[str], shares: dict[str, StageBudget]) -> Stage | None:
    """The pending stage to start next: of those whose required stages are done, the one with the longest chain
    (chain_seconds; ties in `pending`'s order, the registry's in train_stages); None when none is ready."""
    ready = [s for s in pending if set(s.requires) <= done]
    return max(ready, key=lambda s: chain_seconds(s, pending, shares)) if ready else None


def stage_title(stage: Stage, share: StageBudget) -> str:
    steps = "the recipe's steps" if share.steps is None else f"{share.steps} steps"
    presets = "".join(f" + {p}" for p in share.presets)
    return f"train {stage.name} ({steps}; --config {stage.recipe}{presets})"


def train_stages(
    stages: Sequence[Stage],
    shares: dict[str, StageBudget],
    speaker: Path,
    runs: Path,
    size: int,
    console: Console,
    progress: bool,
    lanes: int = 1,
    threads: int | None = None,
    verbose: bool = False,
    share_threads: bool = True,
) -> None:
    """Train (or resume, or reuse) every stage to its share of the budget: one after the other in this process
    when lanes is 1, else up to `lanes` at once in spawned processes sharing `threads` torch threads (torch's
    count when None) between the busy lanes — or each with threads // lanes throughout when not `share_threads`."""
    from talkzoo.pipelines.avatar import changed_requirements, fit_stage, reused, set_aside

    to_train: list[Stage] = []
    for stage in stages:  # registry order: the stages a stage reads come before it
        changed = changed_requirements(stage, runs, (s.name for s in to_train))
        if changed:
            old = set_aside(stage, runs)
            console.say(f"      {stage.name}: {', '.join(changed)} trained on since {stage.name} was trained, so it "
                        f"trains again from scratch (the previous run: {old})")  # fmt: skip
        reuse = reused(stage, shares[stage.name], runs)
        if reuse is None:
            to_train.append(stage)
            continue
        with console.stage(stage_title(stage, shares[stage.name]), stage.name):
            console.say("      " + reuse)
    if lanes <= 1 or len(to_train) < 2:
        for stage in to_train:
            with console.stage(stage_title(stage, shares[stage.name]), stage.name):
                console.say("      " + fit_stage(stage, shares[stage.name], speaker, runs, size, progress))
        return
    import torch

    context = multiprocessing.get_context("spawn")
    reports, busy = context.Queue(), context.Value("i", 0)
    pending = list(to_train)
    done: set[str] = {s.name for s in all_stages().values() if s not in to_train}  # trained or not chosen
    running: dict[Future[str], tuple[Stage, float, int]] = {}
    bars: dict[str, tqdm] = {}
    failure: BaseException | None = None
    shared = threads or torch.get_num_threads()
    fixed = None if share_threads else max(1, shared // lanes)
    with ProcessPoolExecutor(lanes, mp_context=context, initializer=_start_lane,
                             initargs=(reports, busy, shared, fixed, progress, not verbose)) as pool:  # fmt: skip
        while pending or running:
            while failure is None and len(running) < lanes:
                ready = longest_chain_first(pending, done, shares)
                if ready is None:
                    break
                pending.remove(ready)
                slot = min(set(range(lanes)) - {lane for _, _, lane in running.values()})
                with tqdm.external_write_mode():  # the line above the running stages' bars, not through them
                    console.begin(f"{stage_title(ready, shares[ready.name])} [lane {slot + 1}/{lanes}]")
                with busy.get_lock():
                    busy.value += 1
                future = pool.submit(_train_in_lane, ready.name, shares[ready.name], str(speaker), str(runs), size)
                running[future] = (ready, time.perf_counter(), slot)
            if not running:
                break
            finished, _ = wait(list(running), timeout=0.2, return_when=FIRST_COMPLETED)
            _show_progress(reports, bars, {s.name: lane for s, _, lane in running.values()}, progress)
            for future in finished:
                stage, started, _ = running.pop(future)
                with busy.get_lock():
                    busy.value -= 1
                bar = bars.pop(stage.name, None)
                if bar is not None:
                    bar.close()
                try:
                    message = future.result()
                except BaseException as exc:  # noqa: BLE001 - raised once the other lanes have stopped
                    failure = failure or exc
                    pending.clear()
                    continue
                done.add(stage.name)
                took = time.perf_counter() - started
                console.record(stage.name, took)
                with tqdm.external_write_mode():
                    console.say(
                        f"      {stage.name}: {message}; done in {clock(took)} (elapsed {clock(console.elapsed)})"
                    )
    for bar in bars.values():
        bar.close()
    if failure is not None:
        raise failure


def _show_progress(reports: Any, bars: dict[str, tqdm], lanes: dict[str, int], progress: bool) -> None:
    """Drain the lanes' progress messages into one bar per running stage (at its lane's line)."""
    while True:
        try:
            name, step, total = reports.get_nowait()
        except queue_module.Empty:
            return
        if not progress or name not in lanes:
            continue
        bar = bars.get(name)
        if bar is None:
            bar = bars[name] = tqdm(total=total, initial=step, desc=name, unit="step", position=lanes[name],
                                    leave=False, dynamic_ncols=True)  # fmt: skip
        bar.update(step - bar.n)

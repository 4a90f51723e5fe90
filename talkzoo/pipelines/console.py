"""Quiet, useful console output for the long pipelines (`talkzoo avatar`, `talkzoo demo`).

- One line per stage: `[3/9] train moda (1200 steps) … 41.2 s` with the run's elapsed time, and a progress bar
  with its ETA while a long stage runs (`StepProgress` for training: steps, not Lightning's epoch bar, which reads
  "Epoch 33/-2" when a run is bounded by max_steps).
- Third-party chatter goes to a log file instead of the terminal unless `verbose`: the C++ logs of MediaPipe /
  TF Lite / absl (`inference_feedback_manager`, "Created TensorFlow Lite XNNPACK delegate") write to file
  descriptor 2 directly, so descriptor 2 is pointed at the log while Python's `sys.stderr` keeps the terminal
  (progress bars and errors still show); Python warnings (protobuf deprecations, Lightning's hints) are written
  to the log; Lightning's info messages (litlogger / litmodels tips, "GPU available") are dropped.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import lightning as L
from tqdm import tqdm

LIGHTNING_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")
QUIET_ENV = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}  # read when MediaPipe's C++ starts


def clock(seconds: float) -> str:
    """72.5 → "1:12"; 7.3 → "7.3 s"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes}:{rest:02d}"


class Console:
    """Numbered stage lines on stdout: `with console.stage("train moda"):` prints the title, then the stage's
    seconds and the run's elapsed time when the block ends. `progress` says whether bars are shown."""

    def __init__(
        self, total: int, progress: bool = True, out: TextIO | None = None, spent: dict[str, float] | None = None
    ) -> None:
        """spent: seconds of earlier steps of the same job (reported in `seconds`, counted in `elapsed`)."""
        self.total, self.index, self.progress = total, 0, progress
        self.out = out
        self.seconds: dict[str, float] = dict(spent or {})
        self.started = time.perf_counter() - sum(self.seconds.values())

    def say(self, text: str) -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    @contextlib.contextmanager
    def stage(self, title: str, key: str | None = None) -> Iterator[None]:
        self.begin(title)
        start = time.perf_counter()
        yield
        took = time.perf_counter() - start
        self.record(key or title, took)
        self.say(f"      done in {clock(took)} (elapsed {clock(time.perf_counter() - self.started)})")

    def begin(self, title: str) -> None:
        """A stage line for a step timed elsewhere (stages trained side by side): `record` gives its seconds."""
        self.index += 1
        self.say(f"[{self.index}/{self.total}] {title}")

    def record(self, key: str, seconds: float) -> None:
        self.seconds[key] = seconds

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class StepProgress(L.Callback):
    """A training progress bar in optimiser steps: "moda 340/1200 [00:20<00:50, loss 0.31]" (tqdm, with ETA).

    Lightning's own bar counts epochs, which a max_steps run does not have (it prints "Epoch 33/-2"). The label is
    the run folder's name (the stage)."""

    def __init__(self, label: str | None = None) -> None:
        super().__init__()
        self.label = label
        self.bar: tqdm | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_rank != 0:
            return
        label = self.label or Path(trainer.default_root_dir).name
        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        self.bar = tqdm(total=total, initial=trainer.global_step, desc=label, unit="step", dynamic_ncols=True,
                        leave=False)  # fmt: skip

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self.bar is None:
            return
        self.bar.update(trainer.global_step - self.bar.n)
        loss = trainer.callback_metrics.get("train/loss")
        if loss is not None and self.bar.n % 20 == 0:
            self.bar.set_postfix_str(f"loss {float(loss):.3g}", refresh=False)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _log_warning(log: TextIO) -> Any:
    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None):
        log.write(warnings.formatwarning(message, category, filename, lineno, line))
        log.flush()

    return show


@contextlib.contextmanager
def quiet_output(log_path: str | os.PathLike[str], verbose: bool = False) -> Iterator[Path | None]:
    """Within the block, third-party chatter goes to `log_path` (appended) instead of the terminal; with
    `verbose` nothing changes (yields None). Restores descriptors, warnings and logger levels on exit."""
    if verbose:
        yield None
        return
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    levels = {name: logging.getLogger(name).level for name in LIGHTNING_LOGGERS}
    for name in LIGHTNING_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    absl = _absl_logging()
    absl_level = absl.get_verbosity() if absl is not None else None
    if absl is not None:
        absl.set_verbosity(absl.ERROR)
    sys.stderr.flush()
    saved_fd = os.dup(2)
    saved_stderr = sys.stderr
    with open(path, "a", buffering=1) as log, warnings.catch_warnings():
        warnings.showwarning = _log_warning(log)
        os.dup2(log.fileno(), 2)
        terminal = io.TextIOWrapper(
            os.fdopen(os.dup(saved_fd), "wb", buffering=0), encoding="utf-8", errors="replace", write_through=True
        )
        sys.stderr = terminal
        try:
            yield path
        finally:
            sys.stderr.flush()
            sys.stderr = saved_stderr
            terminal.close()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            if absl is not None and absl_level is not None:
                absl.set_verbosity(absl_level)


def _absl_logging() -> Any:
    """absl.logging when installed (MediaPipe's Python side logs through it), else None."""
    try:
        from absl import logging as absl_logging  # optional: comes with mediapipe
    except ImportError:
        return None
    return absl_logging

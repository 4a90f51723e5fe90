"""One loaded method, many sessions: per-session Avatars that share the networks, and the compute estimate that
sets a session's latency budget.

An Avatar holds two kinds of state: the trained networks and constant tensors (large, read-only at inference) and
the per-stream state (feature streams, motion windows, per-frame tracks). `session_copy` deep-copies the avatar
with every torch Module and Tensor it reaches pre-entered in deepcopy's memo, so the copy shares them and owns
fresh stream state: a new session costs kilobytes, not a second model.
"""

from __future__ import annotations

import copy
import statistics
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkzoo.avatars.base import Avatar
from talkzoo.methods import get_method
from talkzoo.serve.engines import ThreadEngine

BLOCK = 320
"""Samples of one input block: 20 ms at 16 kHz, one WebRTC audio packet."""
BLOCK_S = BLOCK / 16000
"""One input block in seconds."""

SERVE_OPTIONS: dict[str, dict[str, Any]] = {
    "moda": {"stride": 2, "context": 48, "lookahead": 1},
    "ernerf": {"moda_stride": 2, "moda_context": 48, "moda_lookahead": 1},
}
"""Avatar options `talkzoo serve` uses unless --option overrides them (docs/serve.md, "Look-ahead"): MODA's motion
windows run every second frame (stride 2) with 1 frame of future audio and 48 frames of context, instead of
generate's stride 4, look-ahead 6, context 96: the look-ahead drops from 13 to 6 frames (520 → 240 ms). Stride 2
halves the windows of stride 1 at the same look-ahead (MODA 128², 1 torch thread: 40 instead of 35 frames/s alone),
and the lips stay within 1.3 % of a lip standard deviation of generate's (1.2 % with stride 1)."""


def shared_objects(root: object) -> dict[int, Any]:
    """deepcopy memo {id: object} of every torch Module and Tensor reachable from `root` through attributes,
    dicts, lists, tuples and sets (not descending into the modules)."""
    memo: dict[int, Any] = {}
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.nn.Module | torch.Tensor):
            memo[id(obj)] = obj
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack.extend(vars(obj).values())
    return memo


def session_copy(avatar: Avatar) -> Avatar:
    """A new Avatar sharing `avatar`'s networks and tensors, with its own (reset) stream state."""
    fresh = copy.deepcopy(avatar, shared_objects(avatar))
    fresh.render_filter = None
    fresh.reset()
    return fresh


@dataclass(frozen=True)
class AvatarInfo:
    """What the server needs to know of a loaded method (wherever its avatars compute)."""

    method: str
    fps: float
    height: int
    width: int
    lookahead_frames: int


@dataclass(frozen=True)
class ComputeEstimate:
    """Measured on a warm-up stream: push_s = 95th percentile of the time of a push that rendered frames (the
    compute part of a frame's latency); frame_s = median time per rendered frame (the cost the frame-skipping
    decisions use); fps = the rate the method renders at alone on this device."""

    push_s: float
    frame_s: float

    @property
    def fps(self) -> float:
        return 1.0 / max(self.frame_s, 1e-6)


class AvatarFactory:
    """A method's trained run loaded once (`template`); `new()` gives each session its own Avatar."""

    def __init__(self, template: Avatar) -> None:
        self.template = template
        self.template.reset()
        self.estimate: ComputeEstimate | None = None

    @classmethod
    def load(
        cls,
        method: str,
        runs: str | Path,
        speaker: str | Path,
        device: str = "cpu",
        options: dict[str, Any] | None = None,
    ) -> AvatarFactory:
        """The registered method's run for the speaker, with the serve defaults (SERVE_OPTIONS) under `options`."""
        chosen = {**SERVE_OPTIONS.get(method, {}), **(options or {})}
        return cls(get_method(method).load_avatar(runs, speaker, device, **chosen))

    def new(self) -> Avatar:
        return session_copy(self.template)

    @property
    def fps(self) -> float:
        return self.template.fps

    @property
    def lookahead_frames(self) -> int:
        ahead = self.template.lookahead_frames
        if ahead is None:
            raise ValueError(f"{self.template.method} needs the whole utterance (its audio features are not "
                             "streamable); train it on mel features to serve it")  # fmt: skip
        return ahead

    def measure(self, seconds: float = 3.0, budget_s: float = 8.0, seed: int = 0) -> ComputeEstimate:
        """Warm up a session copy on `seconds` of quiet noise in 20 ms pushes (at most `budget_s` of wall time)
        and keep the estimate."""
        avatar = self.new()
        rng = np.random.default_rng(seed)
        wave = (0.01 * rng.standard_normal(int(seconds * avatar.sample_rate))).astype(np.float32)
        push_times, frame_times = [], []
        started = time.perf_counter()
        for start in range(0, len(wave), BLOCK):
            begin = time.perf_counter()
            frames = [f for f in avatar.push(wave[start : start + BLOCK]) if f is not None]
            took = time.perf_counter() - begin
            if frames:
                push_times.append(took)
                frame_times.append(took / len(frames))
            if time.perf_counter() - started > budget_s and len(frame_times) >= 3:
                break
        if len(frame_times) > 4:  # the first pushes pay one-off costs (allocations, lazy init)
            push_times, frame_times = push_times[2:], frame_times[2:]
        if not frame_times:
            raise RuntimeError(f"the {avatar.method} avatar rendered no frame from {seconds} s of audio")
        push = float(np.percentile(push_times, 95))
        self.estimate = ComputeEstimate(push_s=push, frame_s=float(statistics.median(frame_times)))
        return self.estimate

    @property
    def info(self) -> AvatarInfo:
        t = self.template
        return AvatarInfo(t.method, float(t.fps), int(t.height), int(t.width), self.lookahead_frames)

    def delay_s(self, sessions: int = 1) -> float:
        return budget_s(self.info, self.estimate or self.measure(), sessions)

    def engine(self, sid: str, executor: Executor) -> ThreadEngine:
        """A new session's avatar, computing in `executor` (a thread pool of this process)."""
        estimate = self.estimate or self.measure()
        return ThreadEngine(self.new(), executor, estimate.frame_s)

    def close(self) -> None:
        pass


def budget_s(info: AvatarInfo, estimate: ComputeEstimate, sessions: int = 1, margin_s: float = 0.06) -> float:
    """The budget D of a new session: look-ahead + one block + compute (scaled by the sessions that share the
    inference) + margin. The audio is sent D after it arrived, frame t with the audio of t."""
    compute = max(estimate.push_s, 1.5 * estimate.frame_s) * max(1, sessions)
    return info.lookahead_frames / info.fps + BLOCK_S + compute + margin_s

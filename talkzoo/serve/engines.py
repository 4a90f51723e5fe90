"""Where a session's avatar computes: a thread of this process, or a separate inference process.

The avatars' per-frame work is many short torch calls with Python between them. In a thread it shares the
interpreter lock with the event loop (WebRTC packets, encoding hand-offs): each call that gives the lock away may
wait for the loop to hand it back, and on 2 cores the avatar ran at a third of its speed. `ProcessEngine` keeps the
loaded method in one separate process (spawned; every session's avatar lives there, sharing its networks) and talks
to it over a pipe: blocks in, frames out. `ThreadEngine` (any in-process AvatarFactory; the tests use it) runs
pushes in a thread pool.

Both skip frames the same way: a frame that could no longer be ready for its slot is not rendered
(`Avatar.render_filter`); time.monotonic is the system-wide monotonic clock, so the inference process can judge the
session's deadlines itself.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from talkzoo.avatars.base import Avatar

STALL_S = 1.0  # render a frame even if late when none was rendered for this long (a last resort: never freeze)


@dataclass
class Schedule:
    """A session's clock as the renderer sees it: stream time s leaves at t0 + delay + s."""

    t0: float
    delay_s: float
    fps: float


class FrameJudge:
    """Whether frame t is still worth rendering, with a running estimate of the cost of one rendered frame."""

    def __init__(self, schedule: Schedule, frame_cost_s: float) -> None:
        self.schedule, self.frame_cost_s = schedule, float(frame_cost_s)
        self.last_rendered = time.monotonic()

    def __call__(self, t: int) -> bool:
        now = time.monotonic()
        s = self.schedule
        due = s.t0 + s.delay_s + t / s.fps
        return now + self.frame_cost_s <= due + 0.5 / s.fps or now - self.last_rendered > STALL_S

    def push(self, avatar: Avatar, samples: np.ndarray) -> tuple[list[tuple[int, np.ndarray]], int]:
        """Push one block; returns ([(frame index, frame)] rendered, number skipped)."""
        first = avatar.frames_emitted
        avatar.render_filter = self
        begin = time.perf_counter()
        frames = avatar.push(samples)
        took = time.perf_counter() - begin
        rendered = [(first + i, f) for i, f in enumerate(frames) if f is not None]
        if rendered:
            self.frame_cost_s = 0.8 * self.frame_cost_s + 0.2 * took / len(rendered)
            self.last_rendered = time.monotonic()
        return rendered, len(frames) - len(rendered)


class ThreadEngine:
    """A session's avatar in this process; pushes run in `executor`."""

    def __init__(self, avatar: Avatar, executor: Executor, frame_cost_s: float) -> None:
        self.avatar, self.executor, self.frame_cost_s = avatar, executor, frame_cost_s
        self.judge: FrameJudge | None = None

    def start(self, schedule: Schedule) -> None:
        self.avatar.reset()
        self.judge = FrameJudge(schedule, self.frame_cost_s)

    async def push(self, samples: np.ndarray) -> tuple[list[tuple[int, np.ndarray]], int]:
        assert self.judge is not None
        return await asyncio.get_running_loop().run_in_executor(self.executor, self.judge.push, self.avatar, samples)

    @property
    def cost_s(self) -> float:
        return self.judge.frame_cost_s if self.judge else self.frame_cost_s

    def close(self) -> None:
        pass


# ---- the inference process -----------------------------------------------------------------------------------------
def _serve_requests(conn: Any, spec: dict[str, Any]) -> None:
    """The inference process: load the method once, then answer requests until "stop" (or the pipe closes)."""
    import torch

    from talkzoo.serve.factory import AvatarFactory

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    try:
        factory = AvatarFactory.load(spec["method"], spec["runs"], spec["speaker"], spec["device"], spec["options"])
        estimate = factory.measure()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it there
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    t = factory.template
    conn.send(("ready", {"method": t.method, "fps": t.fps, "height": t.height, "width": t.width,
                         "lookahead_frames": factory.lookahead_frames, "push_s": estimate.push_s,
                         "frame_s": estimate.frame_s}))  # fmt: skip
    sessions: dict[str, tuple[Avatar, FrameJudge]] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        kind = message[0]
        if kind == "open":
            _, sid, t0, delay, cost = message
            avatar = factory.new()
            sessions[sid] = (avatar, FrameJudge(Schedule(t0, delay, avatar.fps), cost))
        elif kind == "push":
            _, sid, seq, samples = message
            if sid not in sessions:
                conn.send(("frames", sid, seq, [], 0, 0.0))
                continue
            avatar, judge = sessions[sid]
            rendered, skipped = judge.push(avatar, samples)
            conn.send(("frames", sid, seq, rendered, skipped, judge.frame_cost_s))
        elif kind == "close":
            sessions.pop(message[1], None)
        elif kind == "stop":
            return


def inference_threads(device: str) -> int | None:
    """torch intra-op threads of the inference process when none are asked for: on CPU every core but one, since
    the server's network loop (VP8 / Opus encoding, SRTP, packets) needs a core of its own — MODA 128² on 2 cores
    streamed 25.0 frames/s with 1 thread and 23.7 with 2 (docs/serve.md); elsewhere torch's default (None)."""
    if not str(device).startswith("cpu"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores - 1)


class InferenceProcess:
    """The loaded method in a spawned process, shared by every session of the server. threads: the process's
    torch threads (None: `inference_threads(device)`)."""

    def __init__(self, method: str, runs: str, speaker: str, device: str = "cpu", options: dict[str, Any] | None = None,
                 threads: int | None = None, timeout_s: float = 300.0) -> None:  # fmt: skip
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        threads = inference_threads(device) if threads is None else threads
        spec = {"method": method, "runs": str(runs), "speaker": str(speaker), "device": device,
                "options": dict(options or {}), "threads": threads}  # fmt: skip
        self.process = context.Process(target=_serve_requests, args=(child, spec), daemon=True, name="talkzoo-avatar")
        self.process.start()
        child.close()
        if not self._conn.poll(timeout_s):
            self.process.kill()
            raise RuntimeError(f"the inference process did not load {method} within {timeout_s:g} s")
        kind, info = self._conn.recv()
        if kind != "ready":
            self.process.join(5)
            from talkzoo.zoo.errors import UserError

            raise UserError(f"loading {method} failed: {info}")
        self.info: dict[str, Any] = info
        self._send_lock = threading.Lock()
        self._waiting: dict[tuple[str, int], tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._reader = threading.Thread(target=self._read, name="talkzoo-avatar-reader", daemon=True)
        self._reader.start()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            self._conn.send(message)

    def request(self, sid: str, seq: int, samples: np.ndarray) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._waiting[(sid, seq)] = (loop, future)
        self.send(("push", sid, seq, samples))
        return future

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            _, sid, seq, rendered, skipped, cost = message
            waiting = self._waiting.pop((sid, seq), None)
            if waiting is not None:
                _call(waiting[0], _resolve, waiting[1], (rendered, skipped, cost))
        for loop, future in list(self._waiting.values()):  # the process died: wake everyone
            _call(loop, _fail, future)
        self._waiting.clear()

    def stop(self) -> None:
        try:
            self.send(("stop",))
        except (OSError, BrokenPipeError):
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()


def _call(loop: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:  # that loop has closed (a session's server stopped): nobody waits for the answer
        pass


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(RuntimeError("the inference process ended"))


class ProcessEngine:
    """A session's avatar in the inference process."""

    def __init__(self, process: InferenceProcess, sid: str, frame_cost_s: float) -> None:
        self.process, self.sid, self.frame_cost_s = process, sid, frame_cost_s
        self.seq = 0
        self._open = False

    def start(self, schedule: Schedule) -> None:
        self.process.send(("open", self.sid, schedule.t0, schedule.delay_s, self.frame_cost_s))
        self._open = True

    async def push(self, samples: np.ndarray) -> tuple[list[tuple[int, np.ndarray]], int]:
        self.seq += 1
        rendered, skipped, self.frame_cost_s = await self.process.request(self.sid, self.seq, samples)
        return rendered, skipped

    @property
    def cost_s(self) -> float:
        return self.frame_cost_s

    def close(self) -> None:
        if self._open:
            self._open = False
            try:
                self.process.send(("close", self.sid))
            except (OSError, BrokenPipeError):
                pass


class RemoteFactory:
    """The AvatarFactory interface (`info`, `estimate`, `delay_s`, `engine`) over an InferenceProcess."""

    def __init__(self, process: InferenceProcess) -> None:
        from talkzoo.serve.factory import AvatarInfo, ComputeEstimate

        self.process = process
        i = process.info
        self.info = AvatarInfo(i["method"], float(i["fps"]), int(i["height"]), int(i["width"]),
                               int(i["lookahead_frames"]))  # fmt: skip
        self.estimate = ComputeEstimate(push_s=float(i["push_s"]), frame_s=float(i["frame_s"]))

    @property
    def fps(self) -> float:
        return self.info.fps

    @property
    def lookahead_frames(self) -> int:
        return self.info.lookahead_frames

    def measure(self) -> Any:
        return self.estimate

    def delay_s(self, sessions: int = 1) -> float:
        from talkzoo.serve.factory import budget_s

        return budget_s(self.info, self.estimate, sessions)

    def engine(self, sid: str, executor: Executor) -> ProcessEngine:
        return ProcessEngine(self.process, sid, self.estimate.frame_s)

    def close(self) -> None:
        self.process.stop()

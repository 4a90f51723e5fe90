"""talkzoo.serve.replay: a session's schedule on the wall clock without a network (what the GPU kit streams)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkzoo.avatars.base import Avatar
from talkzoo.serve.factory import AvatarFactory
from talkzoo.serve.replay import RenderedFrame, loop_audio, replay_stream, send_slots

FPS = 25.0
SPF = 640  # samples per frame at 25 fps


class ClockAvatar(Avatar):
    """Frame t (a grey image) is computable once the audio of frames 0 … t + ahead has arrived; rendering it takes
    `cost_s` of wall time."""

    method = "clock"

    def __init__(self, ahead: int = 3, cost_s: float = 0.0) -> None:
        super().__init__(FPS, (16, 16), torch.device("cpu"))
        self.ahead, self.cost_s = ahead, cost_s
        self.reset()

    @classmethod
    def load(cls, runs: Path, speaker: Path, device: Any = "cpu", **options: Any) -> ClockAvatar:
        return cls(**options)

    @property
    def lookahead_frames(self) -> int:
        return self.ahead

    def _reset_stream(self) -> None:
        self.samples = 0

    def _feed(self, samples: np.ndarray) -> None:
        self.samples += len(samples)

    def _end(self) -> None:
        pass

    def _ready_frames(self) -> int:
        return self._total if self._total is not None else max(0, self.samples // SPF - self.ahead)

    def _render(self, t: int) -> np.ndarray:
        if self.cost_s:
            time.sleep(self.cost_s)
        return np.full((16, 16, 3), t % 256, np.uint8)


def test_a_fast_avatar_sends_every_frame_at_the_budgeted_latency() -> None:
    factory = AvatarFactory(ClockAvatar(ahead=3, cost_s=0.002))
    factory.measure(seconds=0.6, budget_s=1.0)
    result = replay_stream(factory, np.zeros(16000, np.float32), seconds=3.0, delay_s=0.3)
    assert result["frames"] == result["slots"] >= 70 and result["fps"] == FPS
    assert result["frames_skipped"] == result["frames_late"] == 0
    # frame t needs the audio of frames ≤ t + 3, the block that completes it arrives at (t + 4) / fps; it leaves at
    # delay + t / fps: latency = 300 − 160 ms for every frame (the clock's jitter aside)
    assert abs(result["latency_p50_ms"] - 140.0) < 10.0 and result["latency_max_ms"] < 180.0, result
    assert result["lookahead_ms"] == 120 and result["delay_ms"] == 300 and result["native"] == "16x16"


def test_a_slow_avatar_skips_frames_and_never_shows_one_early() -> None:
    factory = AvatarFactory(ClockAvatar(ahead=3, cost_s=0.1))  # 10 frames/s for a 25 frames/s stream
    factory.measure(seconds=0.6, budget_s=1.0)
    result = replay_stream(factory, np.zeros(16000, np.float32), seconds=3.0, delay_s=0.3)
    assert result["frames_skipped"] > 20 and 0 < result["fps"] < 0.6 * FPS, result
    assert result["latency_p50_ms"] >= 140.0 - 1.0, result  # no frame leaves before its own slot


def test_slots_take_the_newest_frame_ready_in_time() -> None:
    rendered = [RenderedFrame(0, 0.00, 0.05), RenderedFrame(1, 0.04, 0.20), RenderedFrame(2, 0.08, 0.21)]
    # slots at 0.1, 0.14, 0.18, 0.22: frame 0 in slot 0; frame 1 is not ready for slot 1 or 2 and frame 2 is newer
    # by slot 3, so frame 1 is never sent (late)
    latencies = send_slots(rendered, 4, t0=0.0, delay_s=0.1, fps=FPS)
    assert np.allclose(latencies, [0.1, 0.22 - 0.08])


def test_audio_is_looped_or_cut_to_the_stream_length() -> None:
    wave = np.arange(10, dtype=np.float32)
    assert np.array_equal(loop_audio(wave, 25 / 16000), np.concatenate([wave, wave, wave[:5]]))
    assert len(loop_audio(np.ones(48000), 1.0)) == 16000

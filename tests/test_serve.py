"""`talkzoo serve` on loopback: a Python WebRTC client (aiortc) against the real server.

The sync check needs frames whose mouth follows the audio exactly; a 2-step run's mouth does not. So it uses a
signal this test controls: `LookupAvatar` shows, for each frame, the tiny speaker's own video frame whose audio
window (2 frames before, the frame, `ahead` frames after) equals the audio pushed for it — a real audio-driven
Avatar (it sees only the audio, through push) whose correct output is the ground-truth video. Streaming the
speaker's audio through the server must then give back the speaker's video, frame k with audio k. What it proves:
the server's scheduling and transport (look-ahead, delay, the two tracks' clocks, RTCP lip-sync mapping) keep
frame and sound together; not that a trained model's mouth follows speech (that is `talkzoo evaluate`'s job on
`talkzoo generate` output).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import torch

from talkzoo.avatars.base import Avatar
from talkzoo.avatars.tracks import Track
from talkzoo.datamodules.media import write_video
from talkzoo.datamodules.speaker import Speaker
from talkzoo.serve.app import TOKEN_HEADER
from talkzoo.serve.client import LoopbackClient
from talkzoo.serve.config import ServeConfig, resolve_token
from talkzoo.serve.factory import AvatarFactory, session_copy
from talkzoo.serve.server import RunningServer, start_server
from talkzoo.serve.sources import MicBuffer, UploadError, decode_upload
from talkzoo.zoo.errors import UserError

BEFORE = 2  # frames of audio before a frame in LookupAvatar's window


class LookupAvatar(Avatar):
    """Frame t = the speaker's frame j whose audio window [j − 2, j + 1 + ahead) frames is nearest (L2) to the
    stream's window around t (zeros outside the audio). `delay_s`: extra seconds per rendered frame (a slow
    method)."""

    method = "lookup"

    def __init__(self, speaker: Path, ahead: int = 3, delay_s: float = 0.0) -> None:
        spk = Speaker(speaker)
        fps = float(spk.meta.fps)
        super().__init__(fps, (spk.meta.height, spk.meta.width), torch.device("cpu"))
        self.ahead, self.delay_s = ahead, delay_s
        self.spf = int(round(self.sample_rate / fps))
        self.images = [spk.frame(i) for i in range(spk.num_frames)]
        audio = np.asarray(spk.audio(), np.float32)
        self.windows = np.stack([self._window(audio, j) for j in range(spk.num_frames)])
        self.reset()

    def _window(self, wave: np.ndarray, t: int) -> np.ndarray:
        start, stop = (t - BEFORE) * self.spf, (t + 1 + self.ahead) * self.spf
        out = np.zeros(stop - start, np.float32)
        lo, hi = max(start, 0), min(stop, len(wave))
        if hi > lo:
            out[lo - start : hi - start] = wave[lo:hi]
        return out

    @classmethod
    def load(cls, runs: Path, speaker: Path, device: Any = "cpu", **options: Any) -> LookupAvatar:
        return cls(speaker, **options)

    @property
    def lookahead_frames(self) -> int:
        return self.ahead

    def _reset_stream(self) -> None:
        self.samples = Track(())

    def _feed(self, samples: np.ndarray) -> None:
        self.samples.append(samples)

    def _end(self) -> None:
        pass

    def _ready_frames(self) -> int:
        if self._total is not None:
            return self._total
        return max(0, len(self.samples) // self.spf - self.ahead)

    def _render(self, t: int) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        window = self._window(self.samples.values, t)
        best = int(np.argmin(((self.windows - window) ** 2).sum(axis=1)))
        return self.images[best]


# ---- helpers ------------------------------------------------------------------------------------------------------
def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)


async def with_server(factory: AvatarFactory, config: ServeConfig, body: Callable[[RunningServer], Awaitable[Any]]):
    server = await start_server(factory, config)
    try:
        return await body(server)
    finally:
        await server.stop()


def base_url(server: RunningServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def locate(recorded: np.ndarray, reference: np.ndarray) -> int:
    """The sample of `recorded` where `reference` starts (peak of the cross-correlation)."""
    from scipy.signal import correlate

    corr = correlate(recorded, reference, mode="valid", method="fft")
    return int(np.argmax(corr))


def mux_recording(client: LoopbackClient, reference: np.ndarray, fps: float, out: Path) -> tuple[Path, list[float]]:
    """The client's recording cut to where `reference` (the uploaded audio) starts, on the sender's clock: audio
    from there, and for frame k the received frame sent nearest to k / fps after it. Returns the mp4 and the
    frames' distances from their slots (seconds)."""
    t_first, wave, video_times, frames = client.recording.aligned(fps)
    start = locate(wave, reference)
    t_start = t_first + start / 16000
    count = int(len(reference) / 16000 * fps)
    chosen, gaps = [], []
    for k in range(count):
        target = t_start + k / fps
        i = int(np.argmin(np.abs(video_times - target)))
        chosen.append(frames[i])
        gaps.append(float(video_times[i] - target))
    audio = wave[start : start + len(reference)]
    return write_video(out, chosen, fps, audio=audio, sample_rate=16000), gaps


@pytest.fixture(scope="module")
def speaker128(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6 s synthetic speaker at 128²: MediaPipe finds the lips reliably at this size (at 64² the mouth-energy
    sync estimate is noise even on the ground truth), and the estimate gives the ground truth offset 0."""
    from talkzoo.datamodules.synthetic import synthesize

    out = tmp_path_factory.mktemp("speaker128")
    synthesize(out, seconds=6.0, size=128, seed=0, progress=False)
    return out / "speaker"


@pytest.fixture(scope="module")
def lookup(tiny_speaker: Path) -> AvatarFactory:
    factory = AvatarFactory(LookupAvatar(tiny_speaker))
    factory.measure(seconds=1.0)
    return factory


@pytest.fixture(scope="module")
def speech(tiny_speaker: Path) -> tuple[bytes, np.ndarray]:
    """The tiny speaker's recording: the wav file's bytes (the upload) and its samples."""
    path = tiny_speaker / "audio.wav"
    return path.read_bytes(), np.asarray(Speaker(tiny_speaker).audio(), np.float32)


# ---- the sync check --------------------------------------------------------------------------------------------
def test_uploaded_speech_comes_back_in_sync(speaker128: Path, tmp_path: Path) -> None:
    from talkzoo.datamodules.media import iter_frames
    from talkzoo.pipelines.evaluate import evaluate_video

    data, wave = (speaker128 / "audio.wav").read_bytes(), np.asarray(Speaker(speaker128).audio(), np.float32)
    lookup = AvatarFactory(LookupAvatar(speaker128))
    lookup.measure(seconds=1.0)
    fps = lookup.fps

    async def body(server: RunningServer) -> LoopbackClient:
        async with LoopbackClient(base_url(server)) as client:
            await asyncio.sleep(0.5)
            status, answer = await client.upload(data)
            assert status == 200, answer
            await asyncio.sleep(len(wave) / 16000 + client.answer["delay_ms"] / 1000 + 0.6)
        return client

    client = run(with_server(lookup, ServeConfig(port=0), body))
    rec = client.recording
    assert len(rec.video_pts) > fps * 3 and len(rec.audio_pts) > 50 * 3  # frames and audio arrived
    mp4, gaps = mux_recording(client, wave, fps, tmp_path / "recording.mp4")
    assert max(abs(g) for g in gaps) < 0.5 / fps  # a frame was sent for every slot of the utterance

    result = evaluate_video(mp4, speaker128, split="all", progress=False)
    assert result["audio"]["match"] > 0.9 and abs(result["audio"]["offset_frames"]) < 0.5  # the sent audio, at 0
    sync, truth_sync = result["sync"], result["sync_gt"]
    assert isinstance(sync, dict) and isinstance(truth_sync, dict), (sync, truth_sync)
    assert truth_sync["offset"] == 0 and truth_sync["confidence"] > 0.2, truth_sync  # the estimate works here
    assert abs(sync["offset"]) <= 1 and sync["confidence"] > 0.2, sync  # evaluate's sync estimate: 0 ± 1 frame
    assert result["psnr"] > 25, result["psnr"]  # the frames are the speaker's frames (through VP8)

    # and exactly: recorded frame k shows the speaker's frame k, not k ± 1 (in pauses every window is silence and
    # the lookup shows the first silent frame: those frames match neither)
    spk = Speaker(speaker128)
    truth = np.stack([spk.frame(i) for i in range(spk.num_frames)]).astype(np.float32)
    shown = np.array([np.argmin(((truth - f.astype(np.float32)) ** 2).mean(axis=(1, 2, 3))) for f in iter_frames(mp4)])
    offsets = shown - np.arange(len(shown))
    skew = f"video sent {1000 * np.mean(gaps):+.1f} ms from its slot on the audio's clock"
    assert np.mean(offsets == 0) > 0.75 and np.mean(np.abs(offsets) == 1) < 0.05, (skew, offsets.tolist())


def test_a_slow_method_drops_frames_not_sync(tiny_speaker: Path, speech: tuple[bytes, np.ndarray]) -> None:
    """A method rendering ~8 frames/s: the audio stays continuous, fewer distinct frames go out, the page is told,
    and every frame shown is at most a few frames older than its slot (no drift)."""
    data, wave = speech
    factory = AvatarFactory(LookupAvatar(tiny_speaker, delay_s=0.12))
    factory.measure(seconds=0.6, budget_s=2.0)

    async def body(server: RunningServer) -> LoopbackClient:
        async with LoopbackClient(base_url(server)) as client:
            status, _ = await client.upload(data)
            assert status == 200
            await asyncio.sleep(len(wave) / 16000 + client.answer["delay_ms"] / 1000 + 0.5)
        return client

    client = run(with_server(factory, ServeConfig(port=0), body))
    rec = client.recording
    audio_steps = np.diff(np.array(rec.audio_pts, np.int64) % 2**32)
    assert np.all(audio_steps == 960), np.unique(audio_steps)  # 20 ms after 20 ms: the sound never stopped
    stats = client.stats()
    assert any(m["degraded"] for m in stats) and stats[-1]["fps"] < 0.6 * factory.fps
    # which speaker frame each received frame shows, against the slot it was sent in
    spk = Speaker(tiny_speaker)
    truth = np.stack([spk.frame(i) for i in range(spk.num_frames)]).astype(np.float32)
    t_first, recorded, times, frames = rec.aligned(factory.fps)
    t_start = t_first + locate(recorded, wave) / 16000
    lags = []
    for when, image in zip(times, frames, strict=True):
        slot = int(round((when - t_start) * factory.fps))
        if 2 <= slot < spk.num_frames - 2:
            shown = int(np.argmin(((truth - image.astype(np.float32)) ** 2).mean(axis=(1, 2, 3))))
            lags.append(slot - shown)
    assert lags and min(lags) >= -1, lags  # never ahead of the sound
    # behind by about one render time (0.12 s = 3 frames); a scheduling hiccup of the loaded 2-core machine may hold
    # one frame 1–2 slots more (CI once saw 5), but the lag never grows: no drift over the utterance
    assert max(lags) <= 6, lags
    third = max(1, len(lags) // 3)
    assert np.mean(lags[-third:]) <= np.mean(lags[:third]) + 1.0, lags


# ---- sessions, sources, limits ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def moda(trained_runs: Path, tiny_speaker: Path) -> AvatarFactory:
    factory = AvatarFactory.load("moda", trained_runs, tiny_speaker)
    factory.measure(seconds=1.0)
    return factory


def test_session_copies_share_the_networks_and_own_the_stream(moda: AvatarFactory, speech: Any) -> None:
    _, wave = speech
    a, b = moda.new(), moda.new()
    shared = {id(m) for m in (a.moda, a.faconet, a.renderer)}
    assert shared == {id(m) for m in (b.moda, b.faconet, b.renderer)} == {id(moda.template.moda),
                                                                          id(moda.template.faconet),
                                                                          id(moda.template.renderer)}  # fmt: skip
    assert a.audio is not b.audio and a.motion is not b.motion and a.meshes is not b.meshes
    piece = wave[:16000]
    one = a.push(piece) + a.finish()
    b.push(np.zeros(8000, np.float32))  # another stream in between must not disturb a's
    again = session_copy(moda.template)
    assert all(np.array_equal(x, y) for x, y in zip(one, again.push(piece) + again.finish(), strict=True))


def test_render_filter_skips_frames_and_leaves_the_others_unchanged(moda: AvatarFactory, speech: Any) -> None:
    _, wave = speech
    piece = wave[:16000]
    full = moda.new()
    frames = full.push(piece) + full.finish()
    sparse = moda.new()
    sparse.render_filter = lambda t: t % 3 == 0
    got = []
    for start in range(0, len(piece), 320):
        got += sparse.push(piece[start : start + 320])
    got += sparse.finish()
    assert len(got) == len(frames)
    assert all((g is None) == (t % 3 != 0) for t, g in enumerate(got))
    assert all(np.array_equal(g, f) for g, f in zip(got, frames, strict=True) if g is not None)


def test_two_sessions_stream_a_third_waits_and_a_vanished_client_frees_its_seat(
    moda: AvatarFactory, speech: tuple[bytes, np.ndarray]
) -> None:
    data, wave = speech
    config = ServeConfig(port=0, max_sessions=2, heartbeat_s=2.0)

    async def body(server: RunningServer) -> None:
        url = base_url(server)
        async with LoopbackClient(url, mic=wave[: 2 * 16000]) as mic, LoopbackClient(url) as upload:
            mic.send({"type": "source", "source": "mic"})
            status, _ = await upload.upload(data)
            assert status == 200
            third = LoopbackClient(url)
            with pytest.raises(ConnectionRefusedError, match="503"):  # max_sessions
                await third.connect()
            await third.close()
            await asyncio.sleep(2.5)
            for client in (mic, upload):
                assert len(client.recording.video_pts) > 10 and len(client.recording.audio_pts) > 50
                assert client.stats() and client.stats()[-1]["p50_ms"] is not None
            assert {m["source"] for m in mic.stats()[-2:]} == {"mic"}
            assert len(server.state.sessions) == 2
        # both closed their peer connections: the server frees the seats
        await wait_for(lambda: not server.state.sessions, 5.0)
        assert {f["reason"] for f in server.state.finished} <= {"connection closed", "closed by the client"}

        # a client that vanishes without closing (its pings stop) is dropped after heartbeat_s
        ghost = LoopbackClient(url)
        await ghost.connect()
        ghost._tasks[-1].cancel()  # the ping task
        await wait_for(lambda: not server.state.sessions, 6.0)
        assert server.state.finished[-1]["reason"].startswith("client vanished")
        await ghost.close()

    run(with_server(moda, config, body))


async def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


def test_a_bad_upload_gets_a_message_and_the_stream_goes_on(lookup: AvatarFactory) -> None:
    async def body(server: RunningServer) -> None:
        async with LoopbackClient(base_url(server)) as client:
            status, answer = await client.upload(b"RIFF\x00\x00not really a wave file" * 10)
            assert status == 400 and "could not be decoded" in answer["error"]
            status, answer = await client.upload(b"")
            assert status == 400 and "empty" in answer["error"]
            before = len(client.recording.video_pts)
            await asyncio.sleep(1.0)
            assert len(client.recording.video_pts) > before + 15  # still streaming (idling)
            async with aiohttp.ClientSession() as http:  # a session id that does not exist
                async with http.post(f"{base_url(server)}/api/sessions/nope/upload", data=b"x") as r:
                    assert r.status == 404

    run(with_server(lookup, ServeConfig(port=0, max_upload_mb=0.001), body))


def test_page_and_info(lookup: AvatarFactory) -> None:
    async def body(server: RunningServer) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(base_url(server) + "/") as r:
                assert r.status == 200 and "RTCPeerConnection" in await r.text()
            async with http.get(base_url(server) + "/api/info") as r:
                info = await r.json()
                assert info["method"] == "lookup" and info["lookahead_frames"] == 3 and info["max_sessions"] == 2
            async with http.post(base_url(server) + "/api/offer", json={"sdp": "v=0", "type": "offer"}) as r:
                assert r.status == 400
            async with http.get(base_url(server) + "/api/info", headers={"Origin": "http://evil.example"}) as r:
                assert r.status == 403

    run(with_server(lookup, ServeConfig(port=0), body))


def test_a_non_loopback_bind_needs_a_token(lookup: AvatarFactory, tiny_speaker: Path, capsys: Any) -> None:
    from talkzoo.cli import main

    with pytest.raises(UserError, match="needs a token"):
        ServeConfig(host="0.0.0.0", token=None)
    with pytest.raises(UserError, match="empty --token"):
        resolve_token("0.0.0.0", "")
    assert resolve_token("127.0.0.1", None) is None and resolve_token("::1", "") is None
    generated = resolve_token("0.0.0.0", None)
    assert generated and len(generated) >= 20
    assert main(["serve", "--run-dir", "nowhere", "--speaker", str(tiny_speaker), "--host", "0.0.0.0",
                 "--token", ""]) == 1  # fmt: skip
    assert "empty --token" in capsys.readouterr().err

    async def body(server: RunningServer) -> None:
        assert "?token=" in server.url()
        async with aiohttp.ClientSession() as http:
            async with http.get(base_url(server) + "/api/info") as r:
                assert r.status == 401
            async with http.get(base_url(server) + "/api/info", headers={TOKEN_HEADER: "wrong"}) as r:
                assert r.status == 401
            async with http.get(base_url(server) + "/api/info", headers={TOKEN_HEADER: generated}) as r:
                assert r.status == 200
        stranger = LoopbackClient(base_url(server))
        with pytest.raises(ConnectionRefusedError, match="401"):
            await stranger.connect()
        await stranger.close()
        async with LoopbackClient(base_url(server), token=generated) as client:
            assert client.session

    run(with_server(lookup, ServeConfig(host="0.0.0.0", port=0, token=generated), body))


def test_uploads_are_decoded_in_memory_within_limits(speech: tuple[bytes, np.ndarray]) -> None:
    data, wave = speech
    decoded = decode_upload(data, max_seconds=10.0)
    assert np.abs(decoded - wave[: len(decoded)]).max() < 1e-3 and abs(len(decoded) - len(wave)) <= 1
    with pytest.raises(UploadError, match="longer than the server's limit of 1 s"):
        decode_upload(data, max_seconds=1.0)
    with pytest.raises(UploadError, match="could not be decoded"):
        decode_upload(b"\x00" * 1000, max_seconds=10.0)


def test_the_mic_buffer_primes_drops_and_keeps_arrival_times() -> None:
    buffer = MicBuffer(block=4, prime=2, max_blocks=3)
    buffer.add(np.ones(4, np.float32), arrival=1.0)
    samples, arrival = buffer.take(now=5.0)
    assert not samples.any() and arrival == 5.0  # not primed yet: silence
    buffer.add(np.full(4, 2, np.float32), arrival=2.0)
    samples, arrival = buffer.take(now=6.0)
    assert samples.tolist() == [1, 1, 1, 1] and arrival == 1.0
    buffer.add(np.full(12, 3, np.float32), arrival=3.0)  # 16 samples > 3 blocks: the oldest are dropped
    assert buffer.size == 8 and buffer.dropped == 8
    samples, arrival = buffer.take(now=7.0)
    assert samples.tolist() == [3, 3, 3, 3] and arrival == 3.0


def test_avatar_options_from_the_command_line() -> None:
    from talkzoo.serve.command import parse_option

    assert parse_option("stride=2") == ("stride", 2)
    assert parse_option("smooth=1.5") == ("smooth", 1.5)
    assert parse_option("motion=training") == ("motion", "training")
    assert parse_option("seed=none") == ("seed", None)
    with pytest.raises(UserError, match="KEY=VALUE"):
        parse_option("stride")
    with pytest.raises(UserError, match="--delay must be"):
        ServeConfig(delay_s=0.02)


def test_the_inference_process_serves_sessions(trained_runs: Path, tiny_speaker: Path, speech: Any) -> None:
    """`talkzoo serve`'s default: the method loaded once in a spawned process, every session's avatar there."""
    from talkzoo.serve.engines import InferenceProcess, RemoteFactory

    data, _ = speech
    factory = RemoteFactory(InferenceProcess("moda", str(trained_runs), str(tiny_speaker)))
    try:
        assert factory.info.method == "moda" and factory.info.lookahead_frames == 6 and factory.estimate.frame_s > 0

        async def body(server: RunningServer) -> None:
            async with LoopbackClient(base_url(server)) as a, LoopbackClient(base_url(server)) as b:
                assert (await a.upload(data))[0] == 200
                await asyncio.sleep(2.0)
                for client in (a, b):
                    assert len(client.recording.video_pts) > 10 and len(client.recording.audio_pts) > 40
                    assert client.stats()[-1]["p50_ms"] is not None

        run(with_server(factory, ServeConfig(port=0), body))
    finally:
        factory.close()
    assert not factory.process.process.is_alive()


def test_the_inference_process_leaves_a_core_to_the_network_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """On CPU the avatar's process gets every core but one (VP8 / Opus / SRTP run in the server's); elsewhere torch
    decides. On 2 cores that is 1 thread: MODA 128² streamed 25.0 frames/s instead of 23.7 (docs/serve.md)."""
    from talkzoo.serve.engines import inference_threads

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert inference_threads("cpu") == 1
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert inference_threads("cpu") == 15
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    assert inference_threads("cpu") == 1
    assert inference_threads("cuda") is None and inference_threads("cuda:1") is None

"""A Python WebRTC client for the server (no browser): `talkzoo bench`'s streaming entry and the tests use it.

It speaks the page's protocol (offer with one audio and one video m-line and a "control" data channel, pings,
uploads) and records what comes back. Received frames carry RTP timestamps with a random origin per track; the
sender's RTCP reports map them to the sender's wall clock, as a browser does for lip sync (`sender_time`), so the
recording can be laid on one timeline (`Recording.aligned`).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtcpSrPacket

from talkzoo.serve.app import TOKEN_HEADER

RTP_CLOCK = {"audio": 48000, "video": 90000}
MIC_RATE = 48000
MIC_BLOCK = 960  # 20 ms


class WaveTrack(MediaStreamTrack):
    """A microphone stand-in: plays `wave` (mono float32 at 16 kHz) in real time as 20 ms 48 kHz frames, then
    silence."""

    kind = "audio"

    def __init__(self, wave: np.ndarray) -> None:
        super().__init__()
        resampler = av.AudioResampler(format="s16", layout="mono", rate=MIC_RATE)
        frame = av.AudioFrame.from_ndarray(np.asarray(wave, np.float32)[None], format="flt", layout="mono")
        frame.sample_rate = 16000
        pcm = [out.to_ndarray().reshape(-1) for out in [*resampler.resample(frame), *resampler.resample(None)]]
        self.pcm = np.concatenate(pcm) if pcm else np.zeros(0, np.int16)
        self.index = 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        self.start = self.start if self.start is not None else time.monotonic()
        due = self.start + self.index * MIC_BLOCK / MIC_RATE
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        chunk = np.zeros(MIC_BLOCK, np.int16)
        piece = self.pcm[self.index * MIC_BLOCK : (self.index + 1) * MIC_BLOCK]
        chunk[: piece.size] = piece
        frame = av.AudioFrame.from_ndarray(chunk[None], format="s16", layout="mono")
        frame.sample_rate = MIC_RATE
        frame.pts = self.index * MIC_BLOCK
        frame.time_base = Fraction(1, MIC_RATE)
        self.index += 1
        return frame


@dataclass
class Recording:
    """What the client received: per track the frames' RTP timestamps and arrival times (and the pixels / samples
    when kept), and the sender reports (NTP seconds, RTP timestamp) per track."""

    keep_media: bool = True
    video_pts: list[int] = field(default_factory=list)
    video_arrival: list[float] = field(default_factory=list)
    video: list[np.ndarray] = field(default_factory=list)
    audio_pts: list[int] = field(default_factory=list)
    audio: list[np.ndarray] = field(default_factory=list)  # mono float32 at 48 kHz
    reports: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: {"audio": [], "video": []})
    origins: dict[str, int] = field(default_factory=dict)  # RTP timestamp of pts 0, per track

    def sender_time(self, kind: str, pts: list[int] | np.ndarray) -> np.ndarray:
        """Sender wall-clock seconds of RTP timestamps of one track, from its sender reports (median offset)."""
        reports = self.reports[kind]
        if not reports:
            raise RuntimeError(f"no RTCP sender report received for the {kind} track")
        rate = RTP_CLOCK[kind]
        ref = reports[0][1]

        def unwrap(ts: np.ndarray) -> np.ndarray:
            return ref + ((np.asarray(ts, np.int64) - ref + 2**31) % 2**32 - 2**31)

        offset = np.median([ntp - unwrap(np.array([rtp]))[0] / rate for ntp, rtp in reports])
        return offset + unwrap(np.asarray(pts, np.int64) + self.origins[kind]) / rate

    def aligned(self, fps: float, sample_rate: int = 16000) -> tuple[float, np.ndarray, np.ndarray, list[np.ndarray]]:
        """(t_first, audio [N] at sample_rate from t_first, video sender times [V], video frames) on the sender's
        clock; t_first = the first audio sample's sender time."""
        if not self.audio:
            raise RuntimeError("no audio was received")
        audio_start = self.sender_time("audio", [self.audio_pts[0]])[0]
        wave48 = np.concatenate(self.audio)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        frame = av.AudioFrame.from_ndarray(wave48[None].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = MIC_RATE
        wave = np.concatenate([o.to_ndarray().reshape(-1) for o in [*resampler.resample(frame),
                                                                     *resampler.resample(None)]])  # fmt: skip
        return audio_start, wave, self.sender_time("video", self.video_pts), self.video


class LoopbackClient:
    """Connects to the server at `base` (http://host:port), sends `mic` (a 16 kHz wave; None: no microphone
    track) and records the avatar. Use `async with`."""

    def __init__(self, base: str, token: str | None = None, mic: np.ndarray | None = None, keep_media: bool = True):
        self.base, self.token = base.rstrip("/"), token
        self.mic = WaveTrack(mic) if mic is not None else None
        self.recording = Recording(keep_media)
        self.messages: list[dict[str, Any]] = []
        self.pc = RTCPeerConnection()
        self.channel: Any = None
        self.session: str | None = None
        self.answer: dict[str, Any] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._http: aiohttp.ClientSession | None = None
        self.connected = asyncio.Event()

    @property
    def headers(self) -> dict[str, str]:
        return {TOKEN_HEADER: self.token} if self.token else {}

    async def __aenter__(self) -> LoopbackClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self, timeout: float = 20.0) -> dict[str, Any]:
        pc = self.pc
        self._http = aiohttp.ClientSession()
        if self.mic is not None:
            pc.addTransceiver(self.mic, direction="sendrecv")
        else:
            pc.addTransceiver("audio", direction="recvonly")
        pc.addTransceiver("video", direction="recvonly")
        for transceiver in pc.getTransceivers():
            self._hook_reports(transceiver.receiver, transceiver.kind)
        self.channel = pc.createDataChannel("control")
        self.channel.on("message", self._on_message)
        opened = asyncio.Event()
        self.channel.on("open", opened.set)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.ensure_future(self._record(track)))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                self.connected.set()

        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
        async with self._http.post(f"{self.base}/api/offer", headers=self.headers, json=offer) as r:
            body = await r.json()
            if r.status != 200:
                raise ConnectionRefusedError(f"{r.status}: {body.get('error')}")
        self.answer, self.session = body, body["session"]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body["sdp"], type=body["type"]))
        await asyncio.wait_for(self.connected.wait(), timeout)
        await asyncio.wait_for(opened.wait(), timeout)
        self._tasks.append(asyncio.ensure_future(self._ping()))
        return body

    def _hook_reports(self, receiver: Any, kind: str) -> None:
        """Record the RTCP sender reports of a receiver (aiortc keeps only their stats, not the RTP mapping)."""
        original = receiver._handle_rtcp_packet

        async def handle(packet: Any) -> None:
            if isinstance(packet, RtcpSrPacket):
                info = packet.sender_info
                self.recording.reports[kind].append((info.ntp_timestamp / 2**32, info.rtp_timestamp))
            await original(packet)

        receiver._handle_rtcp_packet = handle

    def _origin(self, kind: str) -> int:
        """The RTP timestamp aiortc's receiver maps to pts 0 (it rebases timestamps on the first frame)."""
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.kind == kind)
        mapper = getattr(receiver, "_RTCRtpReceiver__timestamp_mapper", None)
        if mapper is None or mapper._origin is None:
            raise RuntimeError("aiortc's RTCRtpReceiver no longer exposes its timestamp origin; update the client")
        return int(mapper._origin)

    async def _record(self, track: MediaStreamTrack) -> None:
        rec = self.recording
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if track.kind not in rec.origins:
                rec.origins[track.kind] = self._origin(track.kind)
            if track.kind == "video":
                rec.video_pts.append(int(frame.pts))
                rec.video_arrival.append(time.monotonic())
                if rec.keep_media:
                    rec.video.append(frame.to_ndarray(format="rgb24"))
            else:
                rec.audio_pts.append(int(frame.pts))
                if rec.keep_media:
                    pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels)).astype(np.float32) / 32768.0
                    rec.audio.append(pcm.mean(axis=1))

    def _on_message(self, message: Any) -> None:
        try:
            self.messages.append(json.loads(message))
        except (TypeError, ValueError):
            pass

    async def _ping(self) -> None:
        while True:
            if self.channel.readyState == "open":
                self.channel.send(json.dumps({"type": "ping"}))
            await asyncio.sleep(1.0)

    def send(self, data: dict[str, Any]) -> None:
        self.channel.send(json.dumps(data))

    async def upload(self, data: bytes) -> tuple[int, dict[str, Any]]:
        assert self._http is not None and self.session is not None
        async with self._http.post(f"{self.base}/api/sessions/{self.session}/upload", data=data,
                                   headers=self.headers) as r:  # fmt: skip
            return r.status, await r.json()

    def stats(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "stats"]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
        if self._http is not None:
            await self._http.close()

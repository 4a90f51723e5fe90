"""The aiohttp application: the page, signalling (SDP offer → answer), uploads, and the session registry.

aiohttp rather than FastAPI: aiortc is asyncio-native and its own examples use aiohttp, so the page, the
signalling and every peer connection share one event loop with no ASGI server between them; the heavy work
(avatar inference) runs in a thread pool, so the loop stays free for signalling and the media clocks.

Routes (all /api/ routes need the token when the server has one: header `X-Talkzoo-Token`):
    GET  /                               the page (talkzoo/serve/static/index.html)
    GET  /api/info                       method, fps, size, look-ahead, sessions in use / allowed
    POST /api/offer                      {"sdp", "type"} → {"sdp", "type", "session", "delay_ms", ...}
    POST /api/sessions/{id}/upload       the raw bytes of an audio file → {"seconds", "start_block"}
    DELETE /api/sessions/{id}            end a session
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import web

from talkzoo.serve.config import ServeConfig
from talkzoo.serve.engines import RemoteFactory
from talkzoo.serve.factory import AvatarFactory
from talkzoo.serve.session import Session
from talkzoo.serve.sources import UploadError, decode_upload

log = logging.getLogger("talkzoo.serve")

TOKEN_HEADER = "X-Talkzoo-Token"
MAX_OFFER_BYTES = 64 * 1024
FINISHED_KEPT = 64


@dataclass
class ServerState:
    """What the handlers share: the loaded method, the sessions, the inference threads."""

    factory: AvatarFactory | RemoteFactory
    config: ServeConfig
    executor: ThreadPoolExecutor
    sessions: dict[str, Session] = field(default_factory=dict)
    finished: list[dict[str, Any]] = field(default_factory=list)  # summaries of closed sessions (newest last)

    def closed(self, session: Session) -> None:
        self.sessions.pop(session.sid, None)
        self.finished.append({"session": session.sid, "reason": session.close_reason, "delay_ms":
                              round(1000 * session.delay_s), **session.stats.summary()})  # fmt: skip
        del self.finished[:-FINISHED_KEPT]


STATE = web.AppKey("state", ServerState)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Token check on /api/ (constant-time) and a same-origin check (a page elsewhere cannot drive the API)."""
    if request.path.startswith("/api/"):
        token = request.app[STATE].config.token
        if token is not None and not hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), token):
            return _error(401, "missing or wrong token: open the URL the server printed (it ends in ?token=...)")
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            return _error(403, f"cross-origin request from {origin} refused")
    return await handler(request)


async def page(request: web.Request) -> web.Response:
    html = resources.files("talkzoo.serve").joinpath("static/index.html").read_text(encoding="utf-8")
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


async def info(request: web.Request) -> web.Response:
    state = request.app[STATE]
    avatar = state.factory.info
    return web.json_response({
        "method": avatar.method, "fps": avatar.fps, "width": avatar.width, "height": avatar.height,
        "lookahead_frames": state.factory.lookahead_frames, "sessions": len(state.sessions),
        "max_sessions": state.config.max_sessions, "max_upload_mb": state.config.max_upload_mb,
        "max_upload_seconds": state.config.max_upload_seconds,
        "render_fps": round(state.factory.estimate.fps, 1) if state.factory.estimate else None,
    })  # fmt: skip


async def offer(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if request.content_length is not None and request.content_length > MAX_OFFER_BYTES:
        return _error(413, "offer too large")
    try:
        body = json.loads(await request.text())
        sdp, kind = str(body["sdp"]), str(body["type"])
    except (ValueError, KeyError, TypeError):
        return _error(400, 'expected JSON {"sdp": ..., "type": "offer"}')
    if kind != "offer" or "m=audio" not in sdp or "m=video" not in sdp:
        return _error(400, "the offer needs one audio and one video m-line (see the page's JS)")
    if len(state.sessions) >= state.config.max_sessions:
        return _error(503, f"the server is full ({state.config.max_sessions} sessions); try again later")
    sid = secrets.token_urlsafe(9)
    users = len(state.sessions) + 1
    delay = state.config.delay_s if state.config.delay_s is not None else state.factory.delay_s(users)
    engine = state.factory.engine(sid, state.executor)
    session = Session(sid, engine, state.factory.info, state.config, delay, state.closed, lambda: len(state.sessions))
    state.sessions[sid] = session
    try:
        answer = await session.answer(sdp, kind)
    except Exception as exc:  # noqa: BLE001 - a bad SDP must cost only its own session
        await session.close(f"signalling failed: {exc}")
        return _error(400, f"could not answer the offer: {exc}")
    log.info("session %s: offer answered (%d/%d sessions)", sid, len(state.sessions), state.config.max_sessions)
    return web.json_response({
        "sdp": answer.sdp, "type": answer.type, "session": sid, "delay_ms": round(1000 * delay),
        "lookahead_ms": round(1000 * session.lookahead_frames / session.fps), "fps": session.fps,
    })  # fmt: skip


async def upload(request: web.Request) -> web.Response:
    state = request.app[STATE]
    session = state.sessions.get(request.match_info["sid"])
    if session is None:
        return _error(404, "no such session (it ended); reconnect")
    limit = state.config.max_upload_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"the file is larger than the server's limit of {state.config.max_upload_mb:g} MB")
    chunks, size = [], 0
    try:
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                return _error(413, f"the file is larger than the server's limit of {state.config.max_upload_mb:g} MB")
            chunks.append(chunk)
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return _error(400, "the upload was interrupted")
    data = b"".join(chunks)
    loop = asyncio.get_running_loop()
    try:
        samples = await loop.run_in_executor(None, decode_upload, data, state.config.max_upload_seconds)
    except UploadError as exc:
        log.info("session %s: upload refused: %s", session.sid, exc)
        return _error(400, str(exc))
    if session.closed:
        return _error(404, "the session ended during the upload; reconnect")
    start = session.play(samples)
    return web.json_response({"seconds": round(len(samples) / 16000, 3), "start_block": start})


async def end_session(request: web.Request) -> web.Response:
    session = request.app[STATE].sessions.get(request.match_info["sid"])
    if session is not None:
        await session.close("closed by the client")
    return web.json_response({"ok": True})


async def _shutdown(app: web.Application) -> None:
    state = app[STATE]
    for session in list(state.sessions.values()):
        await session.close("server shutting down")
    state.executor.shutdown(wait=False, cancel_futures=True)


def create_app(factory: AvatarFactory | RemoteFactory, config: ServeConfig) -> web.Application:
    """The server for one loaded method (the factory's estimate is measured here if it was not yet)."""
    if factory.estimate is None:
        factory.measure()
    app = web.Application(middlewares=[guard], client_max_size=MAX_OFFER_BYTES)  # uploads stream: not bound by it
    app[STATE] = ServerState(factory, config, ThreadPoolExecutor(config.workers, thread_name_prefix="avatar"))
    app.router.add_get("/", page)
    app.router.add_get("/api/info", info)
    app.router.add_post("/api/offer", offer)
    app.router.add_post("/api/sessions/{sid}/upload", upload)
    app.router.add_delete("/api/sessions/{sid}", end_session)
    app.on_shutdown.append(_shutdown)
    return app

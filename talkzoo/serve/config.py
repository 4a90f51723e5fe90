"""The server's settings and limits, and the token rule: loopback binds need none, any other bind needs one."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

from talkzoo.zoo.errors import UserError

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class ServeConfig:
    """Where the server listens and what one client may use.

    host, port: the bind address. token: required in every API request when set (None: no token; only allowed on a
    loopback host). max_sessions: concurrent sessions (each its own Avatar state). max_upload_mb,
    max_upload_seconds: an uploaded audio file's size and duration. max_session_seconds: a session's lifetime
    (an avatar's per-frame tracks grow with the stream). heartbeat_s: a session whose page sent nothing for this
    long is closed (a client that vanished). delay_s: the audio→output delay D of every session (None: lookahead +
    measured compute, see talkzoo.serve.factory). workers: inference threads shared by all sessions.
    """

    host: str = "127.0.0.1"
    port: int = 8010
    token: str | None = None
    max_sessions: int = 2
    max_upload_mb: float = 20.0
    max_upload_seconds: float = 120.0
    max_session_seconds: float = 900.0
    heartbeat_s: float = 15.0
    delay_s: float | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        if self.max_sessions < 1 or self.workers < 1:
            raise UserError(f"--max-sessions and --workers must be ≥ 1 (got {self.max_sessions}, {self.workers})")
        if self.max_upload_mb <= 0 or self.max_upload_seconds <= 0 or self.max_session_seconds <= 0:
            raise UserError("--max-upload-mb, --max-upload-seconds and --max-session-minutes must be > 0")
        if self.delay_s is not None and self.delay_s < 0.06:
            raise UserError(f"--delay must be ≥ 0.06 s (three 20 ms audio packets), got {self.delay_s}")
        if self.token is None and not is_loopback(self.host):
            raise UserError(f"binding {self.host} (not loopback) needs a token: pass --token T, or omit --token to "
                            "have one generated")  # fmt: skip

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_token(host: str, token: str | None) -> str | None:
    """The token a server on `host` uses: `token` if given; a fresh random one for a non-loopback host without
    one; None (no token) on loopback. An empty token on a non-loopback host is refused (UserError)."""
    if token is not None and token == "":
        if is_loopback(host):
            return None
        raise UserError(f"an empty --token on {host} would let anyone on the network in; omit --token to have one "
                        "generated, or bind 127.0.0.1")  # fmt: skip
    if token is None and not is_loopback(host):
        return secrets.token_urlsafe(18)
    return token

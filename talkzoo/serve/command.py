"""`talkzoo serve`: load a trained method once and serve it live (docs/serve.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from talkzoo.zoo.errors import UserError


def parse_option(text: str) -> tuple[str, Any]:
    """ "key=value" → (key, value) with value as int, float, None ("none") or the string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UserError(f"--option {text!r}: write KEY=VALUE, e.g. --option motion=training")
    value: Any = raw
    for cast in (int, float):
        try:
            value = cast(raw)
            break
        except ValueError:
            continue
    if raw.lower() == "none":
        value = None
    return key.strip(), value


def build_parser() -> argparse.ArgumentParser:
    from talkzoo.methods import METHODS

    p = argparse.ArgumentParser(
        prog="talkzoo serve",
        description="Serve a trained avatar live over WebRTC: open the printed URL, pick the microphone or a file.",
    )
    p.add_argument("--run-dir", required=True, help="the run folder (RUNS/<stage>/checkpoints/last.ckpt per stage)")
    p.add_argument("--speaker", required=True, help="the speaker folder the run was trained on")
    p.add_argument("--method", default="moda", choices=sorted(METHODS), help="registered method (default moda)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1; others need a token)")
    p.add_argument("--port", type=int, default=8010, help="port (default 8010)")
    p.add_argument("--token", default=None, help="access token (generated and printed for a non-loopback host)")
    p.add_argument("--max-sessions", type=int, default=2, help="concurrent sessions (default 2)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest uploaded file in MB (default 20)")
    p.add_argument("--max-upload-seconds", type=float, default=120.0, help="longest upload in s (default 120)")
    p.add_argument("--max-session-minutes", type=float, default=15.0, help="a session's lifetime (default 15)")
    p.add_argument("--delay", type=float, default=None, help="audio→output delay D in s (default: look-ahead + "
                   "measured compute)")  # fmt: skip
    p.add_argument("--workers", type=int, default=1, help="inference threads shared by the sessions (default 1)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: on CPU every core but one for the inference process, "
                   "torch's default in thread mode)")  # fmt: skip
    p.add_argument("--inference", choices=("process", "thread"), default="process",
                   help="where the avatars compute: one separate process (default; no lock contention with the "
                   "network loop) or a thread of the server")  # fmt: skip
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="an Avatar option, repeatable (e.g. stride=2, motion=training); see docs/serve.md")  # fmt: skip
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from talkzoo.serve.config import ServeConfig, resolve_token
    from talkzoo.serve.engines import InferenceProcess, RemoteFactory
    from talkzoo.serve.factory import AvatarFactory
    from talkzoo.serve.server import run_forever

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    token = resolve_token(args.host, args.token)
    config = ServeConfig(
        host=args.host, port=args.port, token=token, max_sessions=args.max_sessions, max_upload_mb=args.max_upload_mb,
        max_upload_seconds=args.max_upload_seconds, max_session_seconds=60 * args.max_session_minutes,
        delay_s=args.delay, workers=args.workers,
    )  # fmt: skip
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    options = dict(parse_option(o) for o in args.option)
    print(f"loading {args.method} from {args.run_dir} for {args.speaker} ...", flush=True)
    factory: AvatarFactory | RemoteFactory
    if args.inference == "process":
        factory = RemoteFactory(InferenceProcess(args.method, args.run_dir, args.speaker, args.device, options,
                                                 threads=args.threads))  # fmt: skip
    else:
        factory = AvatarFactory.load(args.method, args.run_dir, args.speaker, args.device, options)
    estimate = factory.measure()
    print(f"{args.method}: {factory.info.width}x{factory.info.height} at {factory.fps:g} fps, look-ahead "
          f"{factory.lookahead_frames} frames; renders {estimate.fps:.1f} frames/s here; a session's delay "
          f"{1000 * (config.delay_s or factory.delay_s()):.0f} ms", flush=True)  # fmt: skip
    if estimate.fps < factory.fps:
        print(f"note: slower than real time ({estimate.fps:.1f} < {factory.fps:g} fps): the page will show fewer "
              "frames per second, the sound stays continuous and in sync", flush=True)  # fmt: skip
    try:
        asyncio.run(run_forever(factory, config))
    except KeyboardInterrupt:
        pass
    finally:
        factory.close()
    return 0

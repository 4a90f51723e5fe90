"""`talkzoo generate`: new audio → a talking-portrait video, with any registered method's trained run.

    talkzoo generate --method moda --speaker S --audio A.wav --out O.mp4 [--run-dir runs]
    talkzoo generate --method ernerf --speaker S --audio A.wav --out O.mp4 --option motion=training

The method's stages are read from RUN_DIR/<stage>/ (as `talkzoo fit` with --trainer.default_root_dir RUN_DIR/<stage>
and `talkzoo avatar` write them). The audio (wav / mp3 / ogg / a video with sound; any rate) goes through the
method's Avatar in one-second pieces — the same code a live stream runs — and the frames are encoded as they come,
so memory stays flat; the audio is muxed in. Frames have the speaker's size unless --size says otherwise.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from talkzoo.avatars import write_avatar_video
from talkzoo.datamodules.speaker import Speaker
from talkzoo.methods import METHODS, get_method
from talkzoo.zoo.errors import UserError


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """["key=value", ...] → {key: YAML value}; UserError on an item without '='."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--option {item!r}: write KEY=VALUE (e.g. --option motion=training)")
        options[key.replace("-", "_")] = yaml.safe_load(value)
    return options


def generate(
    method: str,
    speaker: str | Path,
    audio: str | Path,
    out: str | Path,
    run_dir: str | Path = "runs",
    device: str | None = None,
    size: int | None = None,
    progress: bool = True,
    **options: Any,
) -> Path:
    """Render `audio` as `speaker` with the trained `method` from `run_dir` into the mp4 `out`; returns `out`.

    size: output height (width keeps the aspect ratio); None: the speaker's size. options: the Avatar's."""
    meta = Speaker(speaker).meta
    height, width = (
        (meta.height, meta.width) if size is None else (size, max(1, round(meta.width * size / meta.height)))
    )
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        avatar = get_method(method).load_avatar(run_dir, speaker, device, size=(height, width), **options)
    except TypeError as exc:  # an option the avatar does not take
        raise UserError(f"{exc}; see `talkzoo generate --method {method} --help` for its options") from exc
    return write_avatar_video(avatar, audio, out, progress=progress)


def main(argv: Sequence[str]) -> int:
    """`talkzoo generate ARGS` (argv excludes the command)."""
    parser = argparse.ArgumentParser(prog="talkzoo generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", required=True, choices=sorted(METHODS), help="a registered method")
    parser.add_argument("--speaker", required=True, help="the speaker folder the run was trained on")
    parser.add_argument("--audio", required=True, help="driving audio: wav, mp3, ogg, or a video with sound")
    parser.add_argument("--out", required=True, help="output mp4")
    parser.add_argument("--run-dir", default="runs", help="folder holding the method's stage runs (default: runs)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--size", type=int, help="output height in pixels (default: the speaker's)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="an option of the method's Avatar (repeatable), e.g. motion=training, seed=3")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    if any(a in ("-h", "--help") for a in argv) and "--method" in argv:
        name = list(argv)[list(argv).index("--method") + 1]
        if name in METHODS:
            parser.epilog = f"Options of {name}'s Avatar:\n{get_method(name).avatar_class().__doc__}"
            parser.formatter_class = argparse.RawDescriptionHelpFormatter
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        if exc.code == 0:
            return 0
        raise UserError("bad generate arguments; see `talkzoo generate --help`") from None
    out = generate(args.method, args.speaker, args.audio, args.out, args.run_dir, args.device, args.size,
                   progress=not args.quiet, **parse_options(args.option))  # fmt: skip
    print(f"wrote {out}")
    return 0

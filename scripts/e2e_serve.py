"""`make e2e`: the served page in a real browser — Debian's chromium, headless, driven by Playwright's Python API.

    python scripts/e2e_serve.py [--run-dir DIR --speaker S [--method moda]] [--screenshot docs/images/serve.png]

Starts `talkzoo serve` (a subprocess, the real CLI), opens the page in /usr/bin/chromium (never a downloaded
browser) with a fake microphone that plays a speech file, clicks Connect and Microphone, checks that the video
element plays, reads the page's fps / latency readout and saves a screenshot. Without --run-dir it first makes a
tiny run (a synthetic speaker, each MODA stage fitted 2 steps) in outputs/e2e. Exit 0 when every check passed;
prints one JSON line with the figures read from the page.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def speech_wav(speaker: Path, out: Path, seconds: float = 20.0) -> Path:
    """The speaker's recording, looped to `seconds`, as 48 kHz 16-bit mono PCM (Chromium's fake capture file)."""
    import soundfile as sf

    from talkzoo.datamodules.media import read_audio

    wave = read_audio(speaker / "audio.wav", 48000)
    wave = np.tile(wave, int(np.ceil(seconds * 48000 / len(wave))))[: int(seconds * 48000)]
    sf.write(out, wave, 48000, subtype="PCM_16")
    return out


def start_server(args: argparse.Namespace, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "talkzoo.cli", "serve", "--run-dir", str(args.run_dir), "--speaker",
               str(args.speaker), "--method", args.method, "--port", str(port), *sum((["--option", o] for o in
               args.option), [])]  # fmt: skip
    server = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    deadline = time.monotonic() + args.start_timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"e2e: talkzoo serve exited ({server.returncode}); see {log}:\n{log.read_text()}")
        if "serving " in log.read_text(errors="replace"):
            return server
        time.sleep(0.5)
    server.kill()
    raise SystemExit(f"e2e: talkzoo serve did not start within {args.start_timeout} s; see {log}")


def drive_page(url: str, wav: Path, screenshot: Path, listen_s: float) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
             "--use-fake-device-for-media-stream", f"--use-file-for-fake-audio-capture={wav}",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
             "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
    profile = Path(tempfile.mkdtemp(prefix="talkzoo-e2e-chromium-"))
    try:
        with sync_playwright() as p:
            viewport = {"width": 820, "height": 600}
            context = p.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True, args=flags, viewport=viewport
            )
            page = context.pages[0] if context.pages else context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(url)
            page.wait_for_function("document.getElementById('about').textContent.includes('fps')", timeout=20000)
            page.click("#connect")
            playing = (
                "() => { const v = document.getElementById('avatar'); "
                "return v.readyState >= 2 && !v.paused && v.currentTime > 0 && v.videoWidth > 0; }"
            )
            page.wait_for_function(playing, timeout=30000)
            page.click("#mic")
            page.wait_for_function("document.getElementById('source').textContent === 'microphone'", timeout=10000)
            time.sleep(listen_s)
            state = page.evaluate("""() => {
                const v = document.getElementById('avatar');
                const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
                return {playing: !v.paused && v.currentTime > 0, currentTime: v.currentTime,
                        videoWidth: v.videoWidth, videoHeight: v.videoHeight,
                        framesShown: q.totalVideoFrames || null,
                        fps: document.getElementById('fps').textContent,
                        fpsValue: Number(document.getElementById('fps').dataset.value),
                        latency: document.getElementById('latency').textContent,
                        p50: Number(document.getElementById('latency').dataset.p50),
                        p95: Number(document.getElementById('latency').dataset.p95),
                        delay: document.getElementById('delay').textContent,
                        received: document.getElementById('received').textContent,
                        notice: document.getElementById('notice').textContent,
                        error: document.getElementById('error').textContent};
            }""")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
            page.click("#disconnect")
            context.close()
        state["page_errors"] = errors
        return state
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--speaker", type=Path, default=None)
    parser.add_argument("--method", default="moda")
    parser.add_argument("--option", action="append", default=[], help="an Avatar option for talkzoo serve")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "outputs" / "e2e" / "serve.png")
    parser.add_argument("--listen", type=float, default=8.0, help="seconds of fake-microphone speech to watch")
    parser.add_argument("--start-timeout", type=float, default=180.0)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "e2e")
    args = parser.parse_args()
    if not Path(CHROMIUM).is_file():
        print(f"e2e: {CHROMIUM} not found; install Debian's chromium: apt-get install -y chromium", file=sys.stderr)
        return 1
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "offline")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.run_dir is None or args.speaker is None:
        from talkzoo.pipelines.tiny_runs import make_tiny_runs

        print("e2e: fitting a tiny run (2 steps per stage) in", args.out / "tiny", flush=True)
        args.run_dir, args.speaker = make_tiny_runs(args.out / "tiny", args.method, size=64, seconds=4.0)
    wav = speech_wav(args.speaker, args.out / "speech48k.wav")
    port = free_port()
    server = start_server(args, port, args.out / "server.log")
    try:
        state = drive_page(f"http://127.0.0.1:{port}/", wav, args.screenshot, args.listen)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    print(json.dumps(state))
    problems = []
    if not state["playing"] or not state["videoWidth"]:
        problems.append("the video element does not play")
    if not state["fpsValue"] > 0:
        problems.append(f"the page shows no fps ({state['fps']!r})")
    if not state["p50"] > 0:
        problems.append(f"the page shows no latency ({state['latency']!r})")
    if state["error"] or state["page_errors"]:
        problems.append(f"the page reported errors: {state['error']!r} {state['page_errors']}")
    for problem in problems:
        print(f"e2e: FAILED: {problem}", file=sys.stderr)
    if not problems:
        print(f"e2e: ok — screenshot {args.screenshot}; server log {args.out / 'server.log'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""`synthesize(out_dir, ...)`: write the synthetic talking video OUT/raw.mp4 and its exact speaker folder."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from tqdm.auto import tqdm

from talkzoo.datamodules.assets import load_speech
from talkzoo.datamodules.media import write_video
from talkzoo.datamodules.speaker import IMAGE_DIRS, SpeakerMeta, SpeakerWriter
from talkzoo.datamodules.synthetic.camera import pose_matrix, rotation_matrix
from talkzoo.datamodules.synthetic.hard_render import REST_LIGHT, HardRenderer
from talkzoo.datamodules.synthetic.motion import (
    HARD_HEAD_LIMITS_DEG,
    HEAD_LIMITS_DEG,
    blink_track,
    head_track,
    light_track,
    mouth_track,
    sway_track,
)
from talkzoo.datamodules.synthetic.portrait import build_portrait
from talkzoo.datamodules.synthetic.render import FrameParams, Renderer
from talkzoo.zoo.audio import extract
from talkzoo.zoo.face.mediapipe_models import mediapipe_version

FPS = 25
SAMPLE_RATE = 16000
HOP = SAMPLE_RATE // FPS  # 640 audio samples per video frame
STYLES = ("easy", "hard")
VIDEO_CRF = {"easy": 18, "hard": 23}  # raw.mp4 quality: near-transparent / x264's default (~0.07 bit per pixel)


@dataclass(frozen=True)
class Animation:
    """Per-frame parameters of a whole clip: face float64 [T, 5], pose float64 [T, 4, 4], sway float64 [T, 2],
    blink float64 [T], loudness float64 [T] (the audio level driving the mouth); light float64 [T, 3] unit
    vectors toward the light (hard style only, else None)."""

    face: np.ndarray
    pose: np.ndarray
    sway: np.ndarray
    blink: np.ndarray
    loudness: np.ndarray
    light: np.ndarray | None = None

    def frame(self, index: int) -> FrameParams:
        return FrameParams(self.face[index], self.pose[index], self.sway[index])


def clip_audio(seconds: float, audio: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """(float32 [T · 640] mono 16 kHz, T = round(seconds · 25)): the first seconds of audio (default the bundled
    speech), looped when it is shorter."""
    num_frames = max(1, int(round(seconds * FPS)))
    source = load_speech(SAMPLE_RATE) if audio is None else np.asarray(audio, dtype=np.float32).reshape(-1)
    if source.size == 0:
        raise ValueError("audio is empty")
    wave = np.resize(source, num_frames * HOP).astype(np.float32)  # np.resize repeats the source
    return wave, num_frames


def animate(
    renderer: Renderer | HardRenderer, wave: np.ndarray, num_frames: int, seed: int, style: str = "easy"
) -> Animation:
    """The clip's motion: mouth from the audio, blinks / head / sway (and for the hard style the light) from
    default_rng(seed); the hard style turns the head further (motion.HARD_HEAD_LIMITS_DEG)."""
    portrait = renderer.p
    rng = np.random.default_rng(seed)
    mouth = mouth_track(wave, num_frames, HOP, SAMPLE_RATE, 2 * renderer.fields.half_width)
    blink = blink_track(num_frames, FPS, rng)
    limits = HARD_HEAD_LIMITS_DEG if style == "hard" else HEAD_LIMITS_DEG
    head = head_track(num_frames, FPS, rng, portrait.size, limits)
    poses = np.stack(
        [pose_matrix(rotation_matrix(*head.angles[i]), portrait.anchor + head.shift[i]) for i in range(num_frames)]
    )
    rest_anchor = portrait.camera.project(portrait.anchor)
    head_offset = portrait.camera.project(poses[:, :3, 3]) - rest_anchor
    sway = sway_track(head_offset, FPS, rng, portrait.size)
    face = np.stack([mouth.open, mouth.lift, mouth.width, blink, blink], axis=1)
    light = light_track(num_frames, FPS, rng, REST_LIGHT) if style == "hard" else None
    return Animation(face=face, pose=poses, sway=sway, blink=blink, loudness=mouth.loudness, light=light)


def _versions() -> dict[str, str]:
    return {"mediapipe": mediapipe_version(), "opencv": cv2.__version__, "av": av.__version__}


def synthesize(
    out_dir: str | os.PathLike[str],
    seconds: float = 20.0,
    size: int = 512,
    seed: int = 0,
    progress: bool = True,
    audio: np.ndarray | None = None,
    style: str = "easy",
    images: bool = True,
) -> Path:
    """Write out_dir/raw.mp4 (h264 + 16 kHz AAC, 25 fps) and out_dir/speaker/ (every entry of the format).

    audio: optional float32 [N] mono 16 kHz speech (default: the bundled recording); T = round(seconds · 25)
    frames and exactly T · 640 audio samples. style: "easy" (the photo warped in 2-D) or "hard" (a textured 3-D
    head turning out of plane, moving light, textured background, sensor noise, raw.mp4 at crf 23; see the
    package docstring). images: also write the speaker folder's frames/, parsing/ and torso/ (False: raw.mp4 and
    the ground-truth arrays only, not a trainable speaker folder — what `talkzoo demo` reads; the video is the
    same). Returns out_dir as a Path.
    """
    if seconds <= 0 or size < 16:
        raise ValueError(f"seconds must be > 0 and size ≥ 16 (got {seconds}, {size})")
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)} (got {style!r})")
    out = Path(out_dir)
    started = time.perf_counter()
    wave, num_frames = clip_audio(seconds, audio)
    portrait = build_portrait(size)
    renderer: Renderer | HardRenderer = HardRenderer(portrait) if style == "hard" else Renderer(portrait)
    anim = animate(renderer, wave, num_frames, seed, style)
    cam = renderer.camera
    meta = SpeakerMeta(width=size, height=size, num_frames=num_frames, focal=cam.focal, cx=cam.cx, cy=cam.cy, fps=FPS)
    for folder in IMAGE_DIRS:  # a previous, longer synth into the same folder must not leave extra frames
        stale = out / "speaker" / folder
        if stale.is_dir():
            shutil.rmtree(stale)
    writer = SpeakerWriter(out / "speaker", meta)
    writer.write_audio(wave)
    writer.write_background(renderer.scene.plate if isinstance(renderer, HardRenderer) else portrait.plate)

    truths = [renderer.ground_truth(anim.frame(i)) for i in range(num_frames)]
    writer.write_array("landmarks", np.stack([t.landmarks for t in truths]))
    writer.write_array("canonical", np.stack([t.canonical for t in truths]))
    writer.write_array("shoulders", np.stack([t.shoulders for t in truths]))
    writer.write_array("pose", anim.pose)
    writer.write_array("blink", anim.blink)
    writer.write_array("detected", np.ones(num_frames, dtype=bool))

    if isinstance(renderer, HardRenderer):
        hard, light = renderer, anim.light

        def render_one(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return hard.render(anim.frame(i), truths[i], light[i], (seed, i))
    else:
        easy = renderer

        def render_one(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            return easy.render(anim.frame(i), truths[i])

    frames = _render_and_save(render_one, num_frames, writer if images else None, progress)
    write_video(out / "raw.mp4", frames, FPS, wave, SAMPLE_RATE, crf=VIDEO_CRF[style])

    mel = extract("mel", wave, SAMPLE_RATE)
    writer.write_feature("mel", mel.values, mel.rate_hz, mel.extractor, mel.model_id)
    elapsed = time.perf_counter() - started
    writer.mark_done(
        "synth",
        params={"seconds": seconds, "size": size, "seed": seed, "style": style, "custom_audio": audio is not None,
                "images": images,
                "seconds_taken": round(elapsed, 2), "frames_per_second": round(num_frames / elapsed, 2)},
        versions=_versions(),
    )  # fmt: skip
    return out


def _render_and_save(
    render_one: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]],
    num_frames: int,
    writer: SpeakerWriter | None,
    progress: bool,
) -> Iterator[np.ndarray]:
    """Render frames (render_one(i) -> frame, parsing, torso) in a producer thread; image files are encoded and
    written by a small thread pool (none without a writer).

    Yields the RGB frames in order (for the video encoder, which runs in the caller's thread).
    """
    frames: queue.Queue = queue.Queue(maxsize=8)
    failure: list[BaseException] = []
    stop = threading.Event()

    def produce() -> None:
        pending: list[Future] = []
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                for i in range(num_frames):
                    if stop.is_set():
                        break
                    frame, parsing, torso = render_one(i)
                    if writer is not None:
                        pending.append(pool.submit(writer.write_image, "frames", i, frame))
                        pending.append(pool.submit(writer.write_image, "parsing", i, parsing))
                        pending.append(pool.submit(writer.write_image, "torso", i, torso))
                    while not stop.is_set():
                        try:
                            frames.put(frame, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    while len(pending) > 24:
                        pending.pop(0).result()
                for f in pending:
                    f.result()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            failure.append(exc)
        finally:
            while not stop.is_set():
                try:
                    frames.put(None, timeout=0.1)
                    break
                except queue.Full:
                    continue

    thread = threading.Thread(target=produce, name="synth-render", daemon=True)
    thread.start()
    bar = tqdm(total=num_frames, desc="synth", unit="frame", disable=not progress)
    try:
        while True:
            frame = frames.get()
            if frame is None:
                break
            bar.update(1)
            yield frame
    finally:
        stop.set()  # the consumer stopped (done or failed): release a producer blocked on the queue
        bar.close()
        thread.join()
    if failure:
        raise failure[0]

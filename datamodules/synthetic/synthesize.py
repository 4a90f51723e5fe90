"""`synthesize(out_dir, ...)`: write the synthetic talking video OUT/raw.mp4 and its exact speaker folder."""

from __future__ import annotations

import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from talkzoo.datamodules.assets import load_speech
from talkzoo.datamodules.media import write_video
from talkzoo.datamodules.speaker import IMAGE_DIRS, SpeakerMeta, SpeakerWriter
from talkzoo.datamodules.synthetic.camera import pose_matrix, rotation_matrix
from talkzoo.datamodules.synthetic.motion import blink_track, head_track, mouth_track, sway_track
from talkzoo.datamodules.synthetic.portrait import build_portrait
from talkzoo.datamodules.synthetic.render import FrameParams, Renderer

FPS = 25
SAMPLE_RATE = 16000
HOP = SAMPLE_RATE // FPS  # 640 audio samples per video frame


@dataclass(frozen=True)
class Animation:
    """Per-frame parameters of a whole clip: face float64 [T, 5], pose float64 [T, 4, 4], sway float64 [T, 2],
    blink float64 [T], loudness float64 [T] (the audio level driving the mouth)."""

    face: np.ndarray
    pose: np.ndarray
    sway: np.ndarray
    blink: np.ndarray
    loudness: np.ndarray

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


def animate(renderer: Renderer, wave: np.ndarray, num_frames: int, seed: int) -> Animation:
    """The clip's motion: mouth from the audio, blinks / head / sway from default_rng(seed)."""
    portrait = renderer.p
    rng = np.random.default_rng(seed)
    mouth = mouth_track(wave, num_frames, HOP, SAMPLE_RATE, 2 * renderer.fields.half_width)
    blink = blink_track(num_frames, FPS, rng)
    head = head_track(num_frames, FPS, rng, portrait.size)
    poses = np.stack(
        [pose_matrix(rotation_matrix(*head.angles[i]), portrait.anchor + head.shift[i]) for i in range(num_frames)]
    )
    rest_anchor = portrait.camera.project(portrait.anchor)
    head_offset = portrait.camera.project(poses[:, :3, 3]) - rest_anchor
    sway = sway_track(head_offset, FPS, rng, portrait.size)
    face = np.stack([mouth.open, mouth.lift, mouth.width, blink, blink], axis=1)
    return Animation(face=face, pose=poses, sway=sway, blink=blink, loudness=mouth.loudness)


def _versions() -> dict[str, str]:
    import av
    import cv2
    import mediapipe

    return {"mediapipe": mediapipe.__version__, "opencv": cv2.__version__, "av": av.__version__}


def synthesize(
    out_dir: str | os.PathLike[str],
    seconds: float = 20.0,
    size: int = 512,
    seed: int = 0,
    progress: bool = True,
    audio: np.ndarray | None = None,
) -> Path:
    """Write out_dir/raw.mp4 (h264 + 16 kHz AAC, 25 fps) and out_dir/speaker/ (every entry of the format).

    audio: optional float32 [N] mono 16 kHz speech (default: the bundled recording); T = round(seconds · 25)
    frames and exactly T · 640 audio samples. Returns out_dir as a Path.
    """
    if seconds <= 0 or size < 16:
        raise ValueError(f"seconds must be > 0 and size ≥ 16 (got {seconds}, {size})")
    out = Path(out_dir)
    started = time.perf_counter()
    wave, num_frames = clip_audio(seconds, audio)
    renderer = Renderer(build_portrait(size))
    anim = animate(renderer, wave, num_frames, seed)
    cam = renderer.camera
    meta = SpeakerMeta(width=size, height=size, num_frames=num_frames, focal=cam.focal, cx=cam.cx, cy=cam.cy, fps=FPS)
    for folder in IMAGE_DIRS:  # a previous, longer synth into the same folder must not leave extra frames
        stale = out / "speaker" / folder
        if stale.is_dir():
            shutil.rmtree(stale)
    writer = SpeakerWriter(out / "speaker", meta)
    writer.write_audio(wave)
    writer.write_background(renderer.p.plate)

    truths = [renderer.ground_truth(anim.frame(i)) for i in range(num_frames)]
    writer.write_array("landmarks", np.stack([t.landmarks for t in truths]))
    writer.write_array("canonical", np.stack([t.canonical for t in truths]))
    writer.write_array("shoulders", np.stack([t.shoulders for t in truths]))
    writer.write_array("pose", anim.pose)
    writer.write_array("blink", anim.blink)
    writer.write_array("detected", np.ones(num_frames, dtype=bool))

    frames = _render_and_save(renderer, anim, truths, writer, progress)
    write_video(out / "raw.mp4", frames, FPS, wave, SAMPLE_RATE)

    from talkzoo.zoo.audio import extract

    mel = extract("mel", wave, SAMPLE_RATE)
    writer.write_feature("mel", mel.values, mel.rate_hz, mel.extractor, mel.model_id)
    elapsed = time.perf_counter() - started
    writer.mark_done(
        "synth",
        params={"seconds": seconds, "size": size, "seed": seed, "custom_audio": audio is not None,
                "seconds_taken": round(elapsed, 2), "frames_per_second": round(num_frames / elapsed, 2)},
        versions=_versions(),
    )  # fmt: skip
    return out


def _render_and_save(
    renderer: Renderer, anim: Animation, truths: list, writer: SpeakerWriter, progress: bool
) -> Iterator[np.ndarray]:
    """Render frames in a producer thread; image files are encoded and written by a small thread pool.

    Yields the RGB frames in order (for the video encoder, which runs in the caller's thread).
    """
    from tqdm.auto import tqdm

    num_frames = len(truths)
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
                    frame, parsing, torso = renderer.render(anim.frame(i), truths[i])
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

"""`talkzoo import-ernerf DIR OUT`: an ER-NeRF / RAD-NeRF processed folder -> a talkzoo speaker folder.

What is taken over: frames (ori_imgs/{i}.jpg), parsing (colour map -> labels), torso layers (torso_imgs/{i}.png),
background (bc.jpg), audio (aud.wav -> 16 kHz mono, trimmed/padded to the frames), poses, intrinsics (focal_len,
cx, cy), the train/val split, blink (au.csv AU45 as ER-NeRF uses it: clip(AU45_r, 0, 2) / 2; from the eyelids when
au.csv is absent) and audio features (aud_hu.npy -> hubert, aud_ds.npy / aud.npy -> deepspeech, aud_eo.npy ->
esperanto, re-flattened to 50 Hz; mel is always computed).
Poses: transform_matrix M (process.py's camera-to-head matrix, OpenGL axes, metres) -> head → camera in OpenCV axes,
pose = D M⁻¹ D with D = diag(1, -1, -1, 1) (ernerf_layout.ernerf_to_pose), so a frontal head has R = I. The head
origin stays the tracker's (the 3DMM mean face's centroid); translations are rescaled from metres to the format's
units, pixels at the focal distance, by putting the format's own origin (MODA's anchor pushed half a cheek span into
the head, located from the landmarks) at the harmonic-mean depth `focal`, as preprocess does (head_frame.py).
What is recomputed: the 478 MediaPipe landmarks (ER-NeRF keeps only 68 points), canonical landmarks (with the
imported poses, each point at its depth relative to the anchor) and the shoulder billboard. Writing goes through
SpeakerWriter with every step pending first, so a failed import never leaves a folder that validates.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from talkzoo.datamodules.importers.ernerf_layout import (
    FEATURE_FILES,
    FEATURE_RATE_HZ,
    check_poses,
    ernerf_to_pose,
    flatten_windows,
    parsing_labels,
    read_au45,
    read_transforms,
)
from talkzoo.datamodules.importers.head_frame import Anchor, canonical_landmarks, locate_anchor, unit_scale
from talkzoo.datamodules.media import MediaError, read_audio
from talkzoo.datamodules.preprocess.blink import blink_signal
from talkzoo.datamodules.preprocess.errors import PreprocessError
from talkzoo.datamodules.preprocess.landmarks import fill_missing, smooth
from talkzoo.datamodules.preprocess.progress import bar
from talkzoo.datamodules.preprocess.shoulders import fill_shoulders, lift_shoulders, shoulder_points_2d
from talkzoo.datamodules.preprocess.tracking import FrameAnalyzer
from talkzoo.datamodules.speaker import NUM_LANDMARKS, NUM_SHOULDER_POINTS, SpeakerMeta, SpeakerWriter, read_image
from talkzoo.zoo.audio import extract

STEPS = ("images", "landmarks", "arrays", "audio", "features")
SMOOTH_WINDOW = 5


def _image(path: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise PreprocessError(f"{path}: missing or unreadable; the ER-NeRF folder is incomplete (re-run process.py)")
    return image


def import_ernerf(
    source: str | os.PathLike[str], out: str | os.PathLike[str], fps: float = 25.0, progress: bool = True
) -> Path:
    """Convert the ER-NeRF data folder `source` into the speaker folder `out` (which must not hold a speaker)."""
    src, root = Path(source), Path(out)
    if not src.is_dir():
        raise PreprocessError(f"{src}: no such folder; point to an ER-NeRF data folder (with transforms_train.json)")
    tf = read_transforms(src)
    first = _image(src / "ori_imgs" / f"{tf.ids[0]}.jpg", cv2.IMREAD_COLOR)
    height, width = first.shape[:2]
    if not (src / "aud.wav").is_file():
        raise PreprocessError(f"{src / 'aud.wav'}: missing; ER-NeRF's process.py task 1 writes it")
    if (root / "speaker.json").exists():
        raise PreprocessError(f"{root}: already holds a speaker; choose another output folder or delete it")
    t = len(tf.ids)
    if t < 2:
        raise PreprocessError(f"{src}: only {t} frame listed; a speaker needs at least 2")
    val_start = tf.val_start if 0 < tf.val_start < t else -1
    meta = SpeakerMeta(width, height, t, focal=tf.focal, cx=tf.cx, cy=tf.cy, fps=fps, val_start=val_start)
    meta.provenance = {
        "import": {"done": True, "params": {"source": str(src.resolve()), "format": "ernerf"}, "versions": {}},
        **{step: {"done": False, "params": {}, "versions": {}} for step in STEPS},
    }
    writer = SpeakerWriter(root, meta, exist_ok=False)
    pose = ernerf_to_pose(tf.matrices)  # OpenCV axes, metres
    check_poses(pose, src)

    landmarks = np.full((t, NUM_LANDMARKS, 3), np.nan, np.float32)
    shoulders2d = np.full((t, NUM_SHOULDER_POINTS, 2), np.nan, np.float32)
    analyzer = FrameAnalyzer()
    try:
        with bar(t, "import", progress) as pbar:
            for k, img_id in enumerate(tf.ids):
                bgr = _image(src / "ori_imgs" / f"{img_id}.jpg", cv2.IMREAD_COLOR)
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                labels = parsing_labels(_image(src / "parsing" / f"{img_id}.png", cv2.IMREAD_COLOR))
                torso = read_image(src / "torso_imgs" / f"{img_id}.png")
                if torso.ndim != 3 or torso.shape[2] != 4:
                    raise PreprocessError(f"{src / 'torso_imgs' / f'{img_id}.png'}: not RGBA; re-run process.py task 6")
                lm = analyzer.landmarks(rgb)
                if lm is not None:
                    landmarks[k] = lm
                shoulders2d[k] = shoulder_points_2d(labels, lm)
                writer.write_image("frames", k, rgb)
                writer.write_image("parsing", k, labels)
                writer.write_image("torso", k, torso)
                pbar.update(1)
    finally:
        analyzer.close()
    writer.write_background(cv2.cvtColor(_image(src / "bc.jpg", cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
    writer.mark_done("images", {"frames": t})

    detected = np.isfinite(landmarks[:, 0, 0])
    if not detected.any():
        raise PreprocessError(f"{src}: MediaPipe finds no face in ori_imgs; check that the frames show the face")
    landmarks = smooth(fill_missing(landmarks, detected), SMOOTH_WINDOW)
    writer.write_array("landmarks", landmarks)
    writer.write_array("detected", detected)
    writer.mark_done("landmarks", {"detected_fraction": float(detected.mean())})

    anchor = locate_anchor(pose, landmarks, tf.focal, tf.cx, tf.cy)
    scale = unit_scale(pose, anchor, tf.focal)
    pose[:, :3, 3] *= scale
    anchor = Anchor(anchor.position * scale, anchor.half_cheek * scale, anchor.rms_px)
    canonical = canonical_landmarks(landmarks, pose, anchor, tf.focal, tf.cx, tf.cy)
    writer.write_array("pose", pose)
    writer.write_array("canonical", canonical)
    au_path = src / "au.csv"
    blink = read_au45(au_path, tf.ids) if au_path.is_file() else blink_signal(canonical)
    writer.write_array("blink", blink)
    lifted = lift_shoulders(fill_shoulders(shoulders2d, width, 7), pose, tf.focal, tf.cx, tf.cy)
    writer.write_array("shoulders", lifted)
    blink_source = "au.csv" if au_path.is_file() else "eyelids"
    pose_info = {
        "axes": "OpenCV, pose = D M^-1 D",
        "origin": "tracker (3DMM mean-face centroid)",
        "units_per_metre": round(scale, 4),
        "anchor_in_head_frame": [round(float(v), 3) for v in anchor.position],
        "anchor_rms_px": round(anchor.rms_px, 3),
    }
    writer.mark_done("arrays", {"pose": pose_info, "blink": blink_source})

    try:
        wave = read_audio(src / "aud.wav", meta.sample_rate)
    except MediaError as exc:
        raise PreprocessError(str(exc)) from exc
    target = int(round(t / fps * meta.sample_rate))
    padded = np.zeros(target, np.float32)
    padded[: min(target, len(wave))] = wave[:target]
    writer.write_audio(padded)
    writer.mark_done("audio", {"source_samples": len(wave)})

    written = []
    for filename, (name, extractor, model_id) in FEATURE_FILES.items():
        path = src / filename
        if path.is_file() and name not in written:
            values = flatten_windows(np.load(path))
            steps = int(round(t / fps * FEATURE_RATE_HZ))  # ER-NeRF clamps aud_id; we pad / trim to the frames
            values = values[np.minimum(np.arange(steps), len(values) - 1)]
            writer.write_feature(name, values, FEATURE_RATE_HZ, extractor, model_id)
            written.append(name)
    mel = extract("mel", padded, meta.sample_rate)
    writer.write_feature("mel", mel.values, mel.rate_hz, mel.extractor, mel.model_id)
    writer.mark_done("features", {"imported": written})
    return root

"""Check the synthetic speaker with a real tracker: MediaPipe FaceMesh (tracking mode) on its video vs its truth."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from talkzoo.datamodules.media import iter_frames
from talkzoo.datamodules.speaker import Speaker
from talkzoo.datamodules.synthetic.mesh_indices import IRIS_CENTERS, LIP_POINTS

LIPS = np.array(LIP_POINTS)


def track(video: Path) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe FaceMesh (tracking mode, refine_landmarks) on every frame: (landmarks float64 [T, 478, 2] in
    pixels, NaN where no face; found bool [T])."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    import mediapipe as mp  # heavy (TensorFlow Lite): on first use, after the logging variable is set

    found, points = [], []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, refine_landmarks=True, max_num_faces=1, min_detection_confidence=0.5
    ) as mesh:
        for frame in iter_frames(video):
            h, w = frame.shape[:2]
            result = mesh.process(frame)
            if result.multi_face_landmarks:
                lm = result.multi_face_landmarks[0].landmark
                points.append(np.array([[p.x * w, p.y * h] for p in lm]))
                found.append(True)
            else:
                points.append(np.full((478, 2), np.nan))
                found.append(False)
    return np.stack(points), np.array(found)


def measure(speaker_dir: Path, video: Path) -> dict[str, float]:
    """Compare the tracker with the ground truth of one synthetic speaker."""
    truth = np.asarray(Speaker(speaker_dir).landmarks)[..., :2].astype(np.float64)
    detected, found = track(video)
    n = min(len(truth), len(detected))
    truth, detected, found = truth[:n], detected[:n], found[:n]
    iod = np.linalg.norm(truth[:, IRIS_CENTERS[0]] - truth[:, IRIS_CENTERS[1]], axis=1)  # [T]
    err = np.linalg.norm(detected - truth, axis=2)[found]  # [F, 478]
    iod_f = iod[found][:, None]
    gap_true = np.linalg.norm(truth[:, 14] - truth[:, 13], axis=1)
    gap_det = np.linalg.norm(detected[:, 14] - detected[:, 13], axis=1)
    corr = float(np.corrcoef(gap_true[found], gap_det[found])[0, 1]) if found.sum() > 2 else float("nan")
    return {
        "frames": int(n),
        "detection_rate": float(found.mean()),
        "error_px_all": float(err.mean()),
        "error_px_lips": float(err[:, LIPS].mean()),
        "error_iod_pct_all": float(100 * (err / iod_f).mean()),
        "error_iod_pct_lips": float(100 * (err[:, LIPS] / iod_f).mean()),
        "lip_gap_corr": corr,
        "lip_gap_true_range_px": [float(gap_true.min()), float(gap_true.max())],
        "lip_gap_detected_range_px": [float(np.nanmin(gap_det)), float(np.nanmax(gap_det))],
        "inter_ocular_px": float(iod.mean()),
    }

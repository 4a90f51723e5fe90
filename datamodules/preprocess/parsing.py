"""Parsing without BiSeNet: the person matte split into head / neck / torso with the face mesh.

head  = person above the jaw line (the face oval's lower half), extended beside the face by hair hanging to
        below the ears, plus the face-oval polygon itself;
neck  = person below the jaw, inside a band between the jaw corners, down to NECK_DEPTH face heights below the chin;
torso = the rest of the person. Labels follow talkzoo.datamodules.speaker.PARSING_LABELS.
"""

from __future__ import annotations

import cv2
import numpy as np

from talkzoo.datamodules.speaker import PARSING_LABELS

HEAD, NECK, TORSO = PARSING_LABELS["head"], PARSING_LABELS["neck"], PARSING_LABELS["torso"]
# Lower half of the face oval from the subject's right ear to the left one, through the chin (152).
JAW_LINE = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
CHIN, FOREHEAD, JAW_LEFT, JAW_RIGHT = 152, 10, 172, 397
HAIR_BELOW_EARS = 0.3  # beside the face, hair counts as head down to this many face heights below the ears
NECK_DEPTH = 0.35  # neck band height below the chin, in face heights
NECK_MARGIN = 0.08  # the neck band is this fraction of the jaw width narrower on each side


def face_height(lm: np.ndarray) -> float:
    """Forehead-to-chin distance in pixels of landmarks [478, 2+]."""
    return float(np.linalg.norm(lm[CHIN, :2] - lm[FOREHEAD, :2]))


def parse_frame(person: np.ndarray, lm: np.ndarray | None) -> np.ndarray:
    """Labels uint8 [H, W] (0 background, 1 head, 2 neck, 3 torso) from person bool [H, W] and landmarks [478, 3]."""
    h, w = person.shape
    labels = np.zeros((h, w), np.uint8)
    labels[person] = TORSO
    if lm is None:
        return labels
    jaw = lm[list(JAW_LINE), :2].astype(np.float64)
    order = np.argsort(jaw[:, 0])
    xs = np.arange(w, dtype=np.float64)
    fh = face_height(lm)
    boundary = np.interp(xs, jaw[order, 0], jaw[order, 1])
    beside = (xs < jaw[:, 0].min()) | (xs > jaw[:, 0].max())
    boundary[beside] = max(jaw[0, 1], jaw[-1, 1]) + HAIR_BELOW_EARS * fh
    rows = np.arange(h, dtype=np.float64)[:, None]
    head = person & (rows < boundary[None, :])
    oval = np.zeros((h, w), np.uint8)
    cv2.fillPoly(oval, [np.round(lm[list(FACE_OVAL), :2]).astype(np.int32)], 1)
    head |= oval.astype(bool)
    x_left, x_right = sorted((float(lm[JAW_LEFT, 0]), float(lm[JAW_RIGHT, 0])))
    margin = NECK_MARGIN * (x_right - x_left)
    band_cols = (xs > x_left + margin) & (xs < x_right - margin)
    band = band_cols[None, :] & (rows < lm[CHIN, 1] + NECK_DEPTH * fh)
    labels[person & band] = NECK
    labels[head] = HEAD
    return labels


def torso_rgba(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 4]: the neck and torso pixels of rgb [H, W, 3] (or bgr -> BGRA), alpha 255 there, 0 elsewhere,
    plus the neck continued upward under the head (`extend_neck`), as ER-NeRF's torso_imgs."""
    alpha = cv2.compare(labels, NECK, cv2.CMP_GE)
    out = cv2.merge([*cv2.split(cv2.bitwise_and(rgb, rgb, mask=alpha)), alpha])
    extend_neck(out, labels)
    return out


NECK_EXTEND = 53 / 512  # rows (fraction of the height) the neck continues upward under the head (ER-NeRF: 53 at 512)
NECK_FADE = 0.98  # per-row colour factor of the continuation (ER-NeRF's darkening)


def extend_neck(rgba: np.ndarray, labels: np.ndarray) -> None:
    """In place: continue each neck column upward from 4 px below its top edge, over head pixels only, with the
    colour found there darkened by NECK_FADE per row (ER-NeRF's torso inpainting, without its blur), alpha 255.

    A head-only NeRF composited over this layer then finds skin, not a hole, where a turning head uncovers the neck.
    """
    h, w = labels.shape
    neck = labels == NECK
    cols = np.flatnonzero(neck.any(axis=0))
    if not len(cols):
        return
    top = neck[:, cols].argmax(axis=0)
    bottom = h - 1 - neck[::-1, cols].argmax(axis=0)
    source = np.minimum(top + 4, bottom)
    length = max(1, int(round(NECK_EXTEND * h)))
    k = np.arange(1, length + 1)[:, None]  # [L, 1] rows above the source row
    rows = source[None, :] - k  # [L, C]
    ok = rows >= 0
    rows_c, cols_c = np.clip(rows, 0, h - 1), np.broadcast_to(cols, rows.shape)
    ok &= labels[rows_c, cols_c] == HEAD
    colour = rgba[source, cols, :3].astype(np.float32)  # [C, 3]
    fill = (colour[None] * (NECK_FADE**k)[..., None]).astype(np.uint8)  # [L, C, 3]
    rgba[rows_c[ok], cols_c[ok], :3] = fill[ok]
    rgba[rows_c[ok], cols_c[ok], 3] = 255

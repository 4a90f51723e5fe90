"""Index sets into the 478-point MediaPipe face mesh (refine_landmarks=True), as MODA uses them (its
`datasets/audio2repr_dataset.py`, `get_semantic_indices`).

Each semantic set is the sorted set of endpoints of one `mediapipe...face_mesh_connections` constant; the eye set
concatenates its blocks in MODA's order. "Left" is the subject's left (image right). Tests check every set against
mediapipe's connection constants, so the numbers here are never trusted blindly.
"""

from __future__ import annotations

NUM_LANDMARKS = 478

LIP_INDICES: tuple[int, ...] = (
    0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181,
    185, 191, 267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415,
)  # fmt: skip
"""40 points: all of FACEMESH_LIPS (outer and inner contours), ascending."""

LEFT_IRIS: tuple[int, ...] = (474, 475, 476, 477)
LEFT_EYE: tuple[int, ...] = (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466)
LEFT_EYEBROW: tuple[int, ...] = (276, 282, 283, 285, 293, 295, 296, 300, 334, 336)
RIGHT_IRIS: tuple[int, ...] = (469, 470, 471, 472)
RIGHT_EYE: tuple[int, ...] = (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246)
RIGHT_EYEBROW: tuple[int, ...] = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107)

EYE_INDICES: tuple[int, ...] = LEFT_IRIS + LEFT_EYE + LEFT_EYEBROW + RIGHT_IRIS + RIGHT_EYE + RIGHT_EYEBROW
"""60 points: left iris, eye, eyebrow, then right iris, eye, eyebrow; each block ascending (MODA's order)."""

MOUTH_OUTER: tuple[int, ...] = (
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
)  # fmt: skip
"""20 points: the outer lip contour as a closed polygon (lower lip from the right mouth corner, then upper lip)."""

MOUTH_INNER: tuple[int, ...] = (
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191,
)  # fmt: skip
"""20 points: the inner lip contour as a closed polygon, in the same orientation as MOUTH_OUTER."""

UPPER_INNER_LIP_MID = 13
"""Middle of the upper lip's inner edge."""
LOWER_INNER_LIP_MID = 14
"""Middle of the lower lip's inner edge; its distance to UPPER_INNER_LIP_MID is the mouth opening."""

LIP_MIRROR_PAIRS: tuple[tuple[int, int], ...] = (
    (37, 267), (39, 269), (40, 270), (61, 291), (78, 308), (80, 310), (81, 311), (82, 312), (84, 314), (87, 317),
    (88, 318), (91, 321), (95, 324), (146, 375), (178, 402), (181, 405), (185, 409), (191, 415),
)  # fmt: skip
"""The lip points' left ↔ right counterparts (0, 13, 14 and 17 lie on the midline and are their own). Checked on
MediaPipe's detections: a frame's points and its mirror image's, mapped back, agree to 0.39 px at 96² (tests)."""

_MIRROR = {**{a: b for a, b in LIP_MIRROR_PAIRS}, **{b: a for a, b in LIP_MIRROR_PAIRS}}
LIP_MIRROR: tuple[int, ...] = tuple(LIP_INDICES.index(_MIRROR.get(index, index)) for index in LIP_INDICES)
"""Position in LIP_INDICES of each lip point's mirror counterpart: lips[..., LIP_MIRROR, :] relabels the points
detected on a horizontally flipped image."""

__all__ = [
    "EYE_INDICES",
    "LEFT_EYE",
    "LEFT_EYEBROW",
    "LEFT_IRIS",
    "LIP_INDICES",
    "LIP_MIRROR",
    "LIP_MIRROR_PAIRS",
    "LOWER_INNER_LIP_MID",
    "MOUTH_INNER",
    "MOUTH_OUTER",
    "NUM_LANDMARKS",
    "RIGHT_EYE",
    "RIGHT_EYEBROW",
    "RIGHT_IRIS",
    "UPPER_INNER_LIP_MID",
]

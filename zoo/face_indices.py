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

__all__ = [
    "EYE_INDICES",
    "LEFT_EYE",
    "LEFT_EYEBROW",
    "LEFT_IRIS",
    "LIP_INDICES",
    "LOWER_INNER_LIP_MID",
    "MOUTH_INNER",
    "MOUTH_OUTER",
    "NUM_LANDMARKS",
    "RIGHT_EYE",
    "RIGHT_EYEBROW",
    "RIGHT_IRIS",
    "UPPER_INNER_LIP_MID",
]

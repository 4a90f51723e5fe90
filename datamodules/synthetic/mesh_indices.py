"""MediaPipe face-mesh landmark indices used by the synthetic speaker (478-point mesh, refine_landmarks=True).

Sequences run from image left to image right (the subject's right side first) at the rest pose.
"""

from __future__ import annotations

# Lips.
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
UPPER_OUTER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_OUTER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIP_POINTS = tuple(sorted(set(UPPER_INNER_LIP + LOWER_INNER_LIP + UPPER_OUTER_LIP + LOWER_OUTER_LIP)))  # 40
MOUTH_CORNERS = (61, 291)
UPPER_LIP_MID, LOWER_LIP_MID = 13, 14
SUBNASALE = 2
CHIN = 152

# Eyes: (upper lid, lower lid), both from corner to corner. Image-left eye first (the subject's right eye).
EYES = (
    ((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133)),
    ((362, 398, 384, 385, 386, 387, 388, 466, 263), (362, 382, 381, 380, 374, 373, 390, 249, 263)),
)
EYE_MID_PAIRS = ((159, 145), (386, 374))  # vertical lid pairs at each eye's middle
IRIS_CENTERS = (468, 473)

# Face oval, clockwise from the forehead top.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# Head anchor: mean of the two cheeks and the nose bridge (pushed back into the head, see the package docstring).
ANCHOR_POINTS = (50, 280, 168)

"""Analytic deformation fields of the face in the rest image: mouth opening, upper-lip lift, lip width, blinks.

Each field maps a rest-image point s (pixels) to a 2D displacement per unit of its parameter; a frame's face
deformation is the linear combination g(s) = Σ_j p_j · G_j(s) with p = (open, lift, width, blink_left,
blink_right) (open / lift / width in pixels at the output size, blinks in [0, 1]). The same function moves the
landmarks (evaluated exactly at their rest positions) and the pixels (sampled on the pixel grid), so the image
and its ground truth agree.

Mouth: the region below the lower inner lip (lower lip, jaw, chin) moves down by `open` (the lips' lateral
profile narrows toward the corners, the chin moves 15% more, the neck under the chin stretches); everything above
(upper lip, teeth) moves up by `lift`. The two meet in a thin band just above the lower inner lip (thickness
BAND · size inside the mouth, widening past the corners so the cheeks stretch smoothly): pixels opening there are
the mouth interior, painted separately. Width moves the corners along the mouth axis (negative = rounding).
Eyes: the upper lid moves down by blink · (lid gap) and the lid skin up to a crease (1.5 × the largest lid gap
above the lid) stretches with it, so blink = 1 puts the upper lid on the lower lid; the eye below the lid does not
move (it is covered), so the image uses the analytic backward map `eye_backward` instead of an inversion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkzoo.datamodules.synthetic.mesh_indices import (
    CHIN,
    EYES,
    LOWER_INNER_LIP,
    MOUTH_CORNERS,
    SUBNASALE,
    UPPER_OUTER_LIP,
)

PARAMS = ("open", "lift", "width", "blink_left", "blink_right")
BAND = 0.002  # mouth band thickness as a fraction of the image size


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _frame(origin: np.ndarray, toward: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local 2D frame: origin [2], unit axis e_a toward `toward`, e_v = e_a turned 90° (image down)."""
    e_a = (toward - origin) / np.linalg.norm(toward - origin)
    e_v = np.array([-e_a[1], e_a[0]])
    return origin, e_a, e_v


@dataclass(frozen=True)
class FaceFields:
    """Geometry of the analytic fields, from the rest landmarks [478, 2+] at one output size."""

    mouth_origin: np.ndarray
    mouth_a: np.ndarray
    mouth_v: np.ndarray
    half_width: float
    inner_half_width: float
    lower_knots: tuple[np.ndarray, np.ndarray]  # (a, v) of the lower inner lip, sorted by a
    v_chin: float
    v_nose: float
    v_upper_outer: float
    band: float
    eyes: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float], ...]

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray, size: int) -> FaceFields:
        lm = np.asarray(landmarks, dtype=np.float64)[:, :2]
        left, right = lm[MOUTH_CORNERS[0]], lm[MOUTH_CORNERS[1]]
        origin, e_a, e_v = _frame((left + right) / 2, right)
        rel = lm - origin
        a, v = rel @ e_a, rel @ e_v
        idx = np.array(LOWER_INNER_LIP)
        order = np.argsort(a[idx])
        knots = (a[idx][order], v[idx][order])
        eyes = []
        for upper, lower in EYES:
            eo, ea, ev = _frame(lm[upper[0]], lm[upper[-1]])
            er = lm - eo
            ua, uv = er[list(upper)] @ ea, er[list(upper)] @ ev
            la, lv = er[list(lower)] @ ea, er[list(lower)] @ ev
            uo, lo = np.argsort(ua), np.argsort(la)
            gap = np.interp(ua, la[lo], lv[lo]) - uv
            eyes.append(
                (eo, ea, ev, np.stack([ua[uo], uv[uo]]), np.stack([la[lo], lv[lo]]), 0, ua.max(), 1.5 * gap.max())
            )
        return cls(
            mouth_origin=origin,
            mouth_a=e_a,
            mouth_v=e_v,
            half_width=float(np.linalg.norm(right - left) / 2),
            inner_half_width=float(np.abs(knots[0]).max()),
            lower_knots=knots,
            v_chin=float(v[CHIN]),
            v_nose=float(v[SUBNASALE]),
            v_upper_outer=float(v[list(UPPER_OUTER_LIP)].min()),
            band=BAND * size,
            eyes=tuple(eyes),  # type: ignore[arg-type]
        )

    # ---- mouth -------------------------------------------------------------------------------------------------
    def _mouth(self, points: np.ndarray) -> np.ndarray:
        """[3, N, 2]: open, lift, width displacement fields at points [N, 2]."""
        rel = points - self.mouth_origin
        a, v = rel @ self.mouth_a, rel @ self.mouth_v
        hw, a_in = self.half_width, self.inner_half_width
        abs_a = np.abs(a)
        v_li = np.interp(a, *self.lower_knots)
        depth = max(self.v_chin - float(np.interp(0.0, *self.lower_knots)), 1e-6)

        # band above the lower inner lip: 0 above it (upper part), 1 at and below the lower inner lip
        eps = self.band + 1.5 * np.maximum(abs_a - a_in, 0.0)
        lam = np.clip((v - (v_li - eps)) / eps, 0.0, 1.0)

        lat_lip = np.where(
            abs_a <= a_in,
            0.12 + 0.88 * np.cos(0.5 * np.pi * np.clip(abs_a / a_in, 0, 1)) ** 2,
            0.12 * (1.0 - _smoothstep((abs_a - a_in) / (0.6 * hw))),
        )
        lat_jaw = 1.0 - _smoothstep((abs_a - 0.9 * hw) / (1.2 * hw))
        beta = _smoothstep((v - v_li) / (0.5 * depth))
        jaw = (1.0 - beta) * lat_lip + beta * 1.15 * lat_jaw
        below_chin = 1.0 - _smoothstep((v - self.v_chin) / (0.7 * depth))
        open_v = lam * jaw * below_chin

        lat_up = 1.0 - _smoothstep((abs_a - 0.8 * a_in) / (0.8 * hw))
        up_v = _smoothstep((v - self.v_nose) / max(self.v_upper_outer - self.v_nose, 1e-6))
        lift_v = -(1.0 - lam) * lat_up * up_v

        width_a = np.clip(a / hw, -1.0, 1.0) * (1.0 - _smoothstep((abs_a - hw) / (0.8 * hw)))
        width_a = width_a * (1.0 - _smoothstep(np.abs(v) / (1.2 * hw)))

        out = np.zeros((3, len(points), 2))
        out[0] = open_v[:, None] * self.mouth_v
        out[1] = lift_v[:, None] * self.mouth_v
        out[2] = width_a[:, None] * self.mouth_a
        return out

    # ---- eyes ----------------------------------------------------------------------------------------------------
    def _eye_geometry(self, eye: int, points: np.ndarray) -> tuple[np.ndarray, ...]:
        """(v, v_up, gap, crease, e_v) of points [N, 2] in one eye's frame; gap is 0 outside the corners."""
        origin, e_a, e_v, upper, lower, a0, a1, crease = self.eyes[eye]
        rel = points - origin
        a, v = rel @ e_a, rel @ e_v
        v_up = np.interp(a, upper[0], upper[1])
        v_lo = np.interp(a, lower[0], lower[1])
        gap = np.where((a >= a0) & (a <= a1), np.maximum(v_lo - v_up, 0.0), 0.0)
        return v, v_up, gap, crease, e_v

    def _eye(self, eye: int, points: np.ndarray) -> np.ndarray:
        """[N, 2]: forward blink displacement (blink = 1) of one eye at rest points [N, 2]."""
        v, v_up, gap, crease, e_v = self._eye_geometry(eye, points)
        lid_skin = (v >= v_up - crease) & (v <= v_up)
        dv = np.where(lid_skin, gap * (1.0 - (v_up - v) / crease), 0.0)
        return dv[:, None] * e_v

    def eye_backward(self, eye: int, points: np.ndarray, blink: float) -> np.ndarray:
        """[N, 2]: backward displacement (output -> rest) of one eye closed by `blink` at points [N, 2].

        The lid skin between the crease and the lowered lid samples the stretched rest skin; below the lid the
        eye is unchanged (the lid covers it), so nothing is compressed.
        """
        v, v_up, gap, crease, e_v = self._eye_geometry(eye, points)
        top, lid = v_up - crease, v_up + blink * gap
        skin = (v >= top) & (v <= lid) & (gap > 0)
        src = top + (v - top) * crease / (crease + blink * gap)
        return np.where(skin, src - v, 0.0)[:, None] * e_v

    def eye_box(self, eye: int, size: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): pixel box holding one eye's lid skin and opening (clipped to the image)."""
        origin, e_a, e_v, upper, lower, a0, a1, crease = self.eyes[eye]
        v_min, v_max = upper[1].min() - crease - 2, lower[1].max() + 2
        pts = np.array([origin + aa * e_a + vv * e_v for aa in (a0 - 2, a1 + 2) for vv in (v_min, v_max)])
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 1
        return max(0, int(x0)), max(0, int(y0)), min(size, int(x1)), min(size, int(y1))

    def basis(self, points: np.ndarray) -> np.ndarray:
        """float64 [5, N, 2]: displacement per unit parameter (PARAMS order) at rest points [N, 2]."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return np.concatenate([self._mouth(points), self._eye(0, points)[None], self._eye(1, points)[None]])

    def teeth_edge(self, lower_inner: np.ndarray) -> np.ndarray:
        """[K, 2] rest points just above the band over the lower inner lip points [K, 2] (the upper part's edge)."""
        return lower_inner - (self.band * 1.01 + 1e-6) * self.mouth_v

    def support_box(self, size: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): pixel box outside which every field is exactly zero (clipped to the image)."""
        hw = self.half_width
        depth = self.v_chin - float(np.interp(0.0, *self.lower_knots))
        reach_a, reach_v = 2.1 * hw + 2, self.v_chin + 0.7 * depth + 2
        corners = [
            self.mouth_origin + sa * reach_a * self.mouth_a + sv * self.mouth_v
            for sa in (-1, 1)
            for sv in (self.v_nose - 2, reach_v, -1.2 * hw - 2, 1.2 * hw + 2)
        ]
        for origin, e_a, e_v, _, _, a0, a1, crease in self.eyes:
            for aa in (a0 - 2, a1 + 2):
                for vv in (-crease - 2 * abs(crease) - 2, crease + 2):
                    corners.append(origin + aa * e_a + vv * e_v)
        pts = np.array(corners)
        x0, y0 = np.floor(pts.min(axis=0)).astype(int)
        x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 1
        return max(0, int(x0)), max(0, int(y0)), min(size, int(x1)), min(size, int(y1))

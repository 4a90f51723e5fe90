"""Textures of the hard synthetic speaker: the photo split into padded tiles (one texture atlas), the inside of
the mouth, and the procedural background plate.

Each surface samples its own tile so that colours never bleed across a region's edge: outside its region a tile
holds the nearest in-region colour (the photo's own background never shows on a turned head). Tiles are padded by
replication, so texture coordinates a little outside the image (the torso past the border) stay in the tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from skimage import data

from talkzoo.datamodules.synthetic.face_mesh import mouth_loop
from talkzoo.datamodules.synthetic.head_geometry import main_torso
from talkzoo.datamodules.synthetic.portrait import HEAD, NECK, Portrait

TILES = ("head", "back", "neck", "torso", "mouth")
PAD = 0.1  # tile padding, fraction of the size


@dataclass(frozen=True)
class Atlas:
    """image uint8 [S + 2P, len(TILES) · (S + 2P), 3]; `uv(tile, points)` maps rest pixels into it."""

    image: np.ndarray
    size: int
    pad: int

    def uv(self, tile: str, points: np.ndarray) -> np.ndarray:
        """float32 [N, 2] atlas pixel coordinates of rest pixels points [N, 2] in tile `tile`."""
        offset = np.array([TILES.index(tile) * (self.size + 2 * self.pad) + self.pad, self.pad], dtype=np.float64)
        return (np.asarray(points, dtype=np.float64) + offset).astype(np.float32)


def extend_colors(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3]: image inside mask (bool [H, W]), the nearest mask pixel's colour outside it."""
    if not mask.any():
        return image.copy()
    _, nearest = cv2.distanceTransformWithLabels(
        (~mask).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(mask)  # label k is the k-th mask pixel in raster order
    return image[ys[nearest - 1], xs[nearest - 1]]


def _erode(mask: np.ndarray, size: int) -> np.ndarray:
    """Drop the matte's soft rim (2 px at 256²) so edge colours do not carry the photo's background."""
    radius = max(1, int(round(size / 128)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    eroded = cv2.erode(mask.astype(np.uint8), kernel) > 0
    return eroded if eroded.any() else mask


def _inpaint(image: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Telea inpainting of region (bool [S, S]) at ≤ 128², upsampled and pasted into image."""
    size = image.shape[0]
    small = min(size, 128)
    img = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)
    hole = (cv2.resize(region.astype(np.uint8), (small, small), interpolation=cv2.INTER_NEAREST) > 0).astype(np.uint8)
    filled = cv2.cvtColor(cv2.inpaint(cv2.cvtColor(img, cv2.COLOR_RGB2BGR), hole, 5, cv2.INPAINT_TELEA),
                          cv2.COLOR_BGR2RGB)  # fmt: skip
    filled = cv2.resize(cv2.GaussianBlur(filled, (0, 0), 1.0), (size, size), interpolation=cv2.INTER_CUBIC)
    return np.where(region[..., None], filled, image)


def mouth_tile(size: int, enamel: np.ndarray) -> np.ndarray:
    """uint8 [S, S, 3]: rows 0–½ the mouth's back wall (palate, dark throat, tongue), ½–¾ the upper teeth (gum at
    the top, biting edge at the bottom), ¾–1 the lower teeth (edge at the top); columns run corner to corner.
    enamel float [3]: the teeth's colour."""
    rows = (np.arange(size) + 0.5) / size
    cols = (np.arange(size) + 0.5) / size
    tile = np.zeros((size, size, 3), np.float32)
    wall = rows < 0.5
    r = rows[wall] / 0.5  # the opening shows r ≈ 0.44–0.56: palate at its top, throat, tongue at its bottom
    palate, throat, tongue = np.array([96, 38, 44]), np.array([52, 17, 21]), np.array([150, 66, 70])
    t_up = np.clip((r - 0.43) / 0.07, 0, 1)[:, None]
    t_dn = np.clip((r - 0.5) / 0.07, 0, 1)[:, None]
    colour = palate * (1 - t_up) + throat * t_up
    colour = colour * (1 - t_dn) + tongue * t_dn
    tile[wall] = colour[:, None, :]
    gum = np.array([185, 92, 98])
    lateral = np.clip(1.0 - 1.6 * np.abs(cols - 0.5) ** 1.5, 0.35, 1.0)  # teeth darken toward the corners
    gaps = 1.0 - 0.35 * np.exp(-(((cols * 8.0) % 1.0 - 0.5) ** 2) / 0.004)  # dark lines between teeth
    for start, edge_at_top in ((0.5, False), (0.75, True)):
        band = (rows >= start) & (rows < start + 0.25)
        rr = (rows[band] - start) / 0.25
        gum_w = np.clip(((rr if edge_at_top else 1 - rr) - 0.62) / 0.08, 0, 1)[:, None, None]
        to_edge = rr if edge_at_top else 1 - rr
        edge = 1.0 - 0.25 * np.exp(-(to_edge**2) / 0.01)[:, None, None]
        teeth = enamel[None, None, :] * (lateral * gaps)[None, :, None] * edge
        tile[band] = teeth * (1 - gum_w) + gum[None, None, :] * gum_w
    return np.clip(tile, 0, 255).astype(np.uint8)


def _teeth_colour(portrait: Portrait) -> np.ndarray:
    """float [3]: mean of the brighter half of the photo's pixels between the inner lips (its teeth)."""
    loop = np.array(mouth_loop())
    hole = np.zeros(portrait.labels.shape, np.uint8)
    cv2.fillPoly(hole, [np.round(portrait.landmarks[loop, :2] * 16).astype(np.int32)], 1, shift=4)
    pixels = portrait.image[hole > 0].astype(np.float64)
    if len(pixels) < 4:
        return np.array([228.0, 222.0, 206.0])
    bright = pixels[pixels.sum(1) >= np.median(pixels.sum(1))]
    return bright.mean(axis=0)


def build_atlas(portrait: Portrait, face_polygon: np.ndarray) -> Atlas:
    """The five tiles of one portrait: head (photo, head colours extended), back of the head (the same with the
    face inpainted: hair and skin around), neck, torso, mouth."""
    size = portrait.size
    image, labels = portrait.image, portrait.labels
    head_mask = _erode((labels == HEAD) | (face_polygon > 0), size)
    head = extend_colors(image, head_mask)
    face = cv2.dilate(face_polygon, np.ones((3, 3), np.uint8), iterations=max(1, size // 64)) > 0
    back = cv2.GaussianBlur(_inpaint(head, face), (0, 0), max(0.5, 0.004 * size))
    neck = extend_colors(image, _erode(labels == NECK, size))
    # under the neck (hidden until the neck moves aside) the torso shows the photo's own neck and collar
    torso = extend_colors(image, _erode(main_torso(labels) | (labels == NECK), size))
    pad = int(np.ceil(PAD * size))
    tiles = [head, back, neck, torso, mouth_tile(size, _teeth_colour(portrait))]
    padded = [cv2.copyMakeBorder(t, pad, pad, pad, pad, cv2.BORDER_REPLICATE) for t in tiles]
    return Atlas(np.ascontiguousarray(np.concatenate(padded, axis=1)), size, pad)


def backdrop(size: int, seed: int = 11) -> np.ndarray:
    """uint8 [S, S, 3]: a procedural, slightly defocused room wall (the static background plate).

    A warm wall with a lighting gradient and a soft window glow, a shelf with books on the left, a framed
    picture on the right, brick-like fine texture (scikit-image's `brick` sample), all fixed by `seed`.
    """
    rng = np.random.default_rng(seed)
    ys, xs = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    wall = np.array([176, 166, 150], np.float32) * (0.82 + 0.22 * (1 - ys) + 0.08 * xs)[..., None]
    glow = np.exp(-((xs - 0.82) ** 2 + (ys - 0.2) ** 2) / 0.05)[..., None]
    img = wall + 45 * glow * np.array([1.0, 0.97, 0.85], np.float32)

    def rect(x0: float, y0: float, x1: float, y1: float, colour: np.ndarray) -> None:
        box = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
        img[box] = colour

    shelf_y = 0.58
    x = 0.02
    while x < 0.3:  # books on the shelf
        w, h = rng.uniform(0.018, 0.04), rng.uniform(0.1, 0.17)
        colour = rng.uniform([60, 40, 30], [170, 140, 120]).astype(np.float32)
        rect(x, shelf_y - h, x + w, shelf_y, colour)
        x += w + rng.uniform(0.0, 0.008)
    rect(0.0, shelf_y, 0.34, shelf_y + 0.025, np.array([92, 64, 44], np.float32))
    rect(0.0, shelf_y + 0.025, 0.34, shelf_y + 0.035, np.array([60, 42, 30], np.float32))
    rect(0.74, 0.34, 0.96, 0.56, np.array([70, 58, 48], np.float32))  # picture frame
    inner = (xs >= 0.755) & (xs < 0.945) & (ys >= 0.355) & (ys < 0.545)
    img[inner] = (np.array([90, 120, 150], np.float32) * (0.7 + 0.5 * (ys[inner] - 0.355) / 0.19)[:, None]
                  + np.array([40, 30, 0], np.float32) * ((xs[inner] - 0.755) / 0.19)[:, None])  # fmt: skip
    brick = cv2.resize(data.brick().astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    brick = (brick - brick.mean()) / (brick.std() + 1e-6)
    img = img * (1.0 + 0.035 * brick[..., None])
    img = cv2.GaussianBlur(img, (0, 0), max(0.5, 0.004 * size))
    return np.clip(img, 0, 255).astype(np.uint8)

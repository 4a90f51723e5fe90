"""Triangles of MediaPipe's 468-vertex face mesh and the loops of its three holes (mouth, eyes).

MediaPipe ships the tessellation as an edge set (`FACEMESH_TESSELATION`, 1322 undirected edges); its triangles are
the 3-cliques of that graph minus two spurious ones (three mutually adjacent vertices that are not a face: each of
their edges already borders two triangles). The surface has four boundary loops: the face oval, the inner lips
and the two eye openings.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

import numpy as np

from talkzoo.datamodules.synthetic.mesh_indices import EYES, LOWER_INNER_LIP, UPPER_INNER_LIP


def _edges() -> set[tuple[int, int]]:
    # mediapipe is a heavy optional import; only the edge table is needed
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    return {(min(a, b), max(a, b)) for a, b in FACEMESH_TESSELATION}


@lru_cache(maxsize=1)
def _unoriented_triangles() -> np.ndarray:
    """int64 [852, 3]: the faces of the tessellation, vertex order arbitrary."""
    edges = _edges()
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    cliques = {tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]}
    uses: dict[tuple[int, int], int] = defaultdict(int)
    for a, b, c in cliques:
        for e in ((a, b), (b, c), (a, c)):
            uses[e] += 1
    # a clique whose three edges each border three cliques is the spurious "lid" of a tetrahedron-like fan
    faces = [t for t in cliques if not all(uses[e] > 2 for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])))]
    return np.array(sorted(faces), dtype=np.int64)


def _orient_consistently(faces: np.ndarray) -> np.ndarray:
    """Flip faces [F, 3] so that every shared edge is traversed in opposite directions (breadth-first)."""
    faces = faces.copy()
    by_edge: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, (a, b, c) in enumerate(faces):
        for e in ((a, b), (b, c), (c, a)):
            by_edge[(min(e), max(e))].append(index)
    done = np.zeros(len(faces), dtype=bool)
    for start in range(len(faces)):
        if done[start]:
            continue
        done[start] = True
        queue = [start]
        while queue:
            f = queue.pop()
            a, b, c = faces[f]
            for u, v in ((a, b), (b, c), (c, a)):
                for g in by_edge[(min(u, v), max(u, v))]:
                    if done[g]:
                        continue
                    ga, gb, gc = faces[g]
                    if (u, v) in ((ga, gb), (gb, gc), (gc, ga)):  # same direction: flip g
                        faces[g] = faces[g][[0, 2, 1]]
                    done[g] = True
                    queue.append(g)
    return faces


@lru_cache(maxsize=1)
def _consistent_triangles() -> np.ndarray:
    return _orient_consistently(_unoriented_triangles())


def face_triangles(rest_xy: np.ndarray) -> np.ndarray:
    """int64 [852, 3] triangles of the 468-vertex mesh, consistently oriented so that the frontal rest pose
    (rest_xy [≥468, 2], image pixels, y down) has positive signed area (x1−x0)(y2−y0) − (x2−x0)(y1−y0) for
    most of them (the camera-facing side)."""
    faces = _consistent_triangles()
    p = np.asarray(rest_xy, dtype=np.float64)[:, :2]
    a, b, c = p[faces[:, 0]], p[faces[:, 1]], p[faces[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    return faces if (area > 0).sum() >= (area < 0).sum() else faces[:, [0, 2, 1]]


def mouth_loop() -> tuple[int, ...]:
    """The inner-lip hole, a closed loop: upper inner lip left to right, then the lower inner lip back."""
    return UPPER_INNER_LIP + tuple(reversed(LOWER_INNER_LIP[1:-1]))


def eye_loops() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The two eye openings (image-left eye first), each a closed loop: upper lid, then the lower lid back."""
    return tuple(upper + tuple(reversed(lower[1:-1])) for upper, lower in EYES)  # type: ignore[return-value]

"""Landmark metrics (talkzoo.zoo.metrics.landmarks): projection, LMD, LMD-v, mouth-area IoU, opening, diversity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from talkzoo.zoo.face_indices import LIP_INDICES, MOUTH_INNER
from talkzoo.zoo.metrics import (
    diversity,
    landmark_distance,
    landmark_velocity_distance,
    lip_polygon,
    mouth_area_iou,
    mouth_opening,
    pearson,
    polygon_iou,
    project_points,
)


def test_projection_matches_the_pinhole_model() -> None:
    pose = torch.eye(4)
    pose[:3, 3] = torch.tensor([1.0, -2.0, 10.0])
    points = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 2.0, 0.0]]])
    px = project_points(points, pose[None], focal=100.0, cx=32.0, cy=16.0)
    assert torch.allclose(px[0, 0], torch.tensor([32 + 100 * 1 / 10, 16 - 100 * 2 / 10]))
    assert torch.allclose(px[0, 1], torch.tensor([32 + 100 * 2 / 10, 16 + 0.0]))


def test_projection_reproduces_the_synthetic_speakers_landmarks(tiny_speaker) -> None:
    from talkzoo.datamodules.speaker import Speaker

    s = Speaker(tiny_speaker)
    px = project_points(torch.from_numpy(np.array(s.canonical)), torch.from_numpy(np.array(s.pose)),
                        s.meta.focal, s.meta.cx, s.meta.cy)  # fmt: skip
    assert np.abs(px.numpy() - np.asarray(s.landmarks)[..., :2]).max() < 1e-3


def test_lmd_is_the_mean_point_distance_and_lmdv_ignores_constant_offsets() -> None:
    gt = torch.randn(5, 40, 2)
    shifted = gt + torch.tensor([3.0, 4.0])
    assert torch.allclose(landmark_distance(gt, gt), torch.zeros(5))
    assert torch.allclose(landmark_distance(shifted, gt), torch.full((5,), 5.0))
    assert torch.allclose(landmark_velocity_distance(shifted, gt), torch.zeros(4), atol=1e-5)
    frozen = gt[:1].expand(5, -1, -1)
    assert landmark_velocity_distance(frozen, gt).mean() > 0


def _square(x0: float, y0: float, side: float) -> np.ndarray:
    return np.array([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]], dtype=np.float64)


def test_polygon_iou_of_known_shapes() -> None:
    a = np.stack([_square(0, 0, 4), _square(0, 0, 4), _square(0, 0, 4), _square(0, 0, 0.1)])
    b = np.stack([_square(0, 0, 4), _square(2, 0, 4), _square(10, 10, 4), _square(0.02, 0, 0.1)])
    iou = polygon_iou(a, b)
    assert iou[0] == pytest.approx(1.0)
    assert iou[1] == pytest.approx(1 / 3, abs=0.03)
    assert iou[2] == pytest.approx(0.0)
    assert iou[3] == 1.0  # both below min_area: agreement on a closed mouth


def test_mouth_area_iou_and_opening_on_lip_points() -> None:
    pos = {index: i for i, index in enumerate(LIP_INDICES)}
    lips = torch.zeros(1, 40, 2)
    angles = torch.linspace(0, 2 * np.pi, len(MOUTH_INNER) + 1)[:-1]
    for k, index in enumerate(MOUTH_INNER):
        lips[0, pos[index]] = torch.stack([10 * torch.cos(angles[k]), 3 * torch.sin(angles[k])]) + 20
    closed = lips.clone()
    closed[..., 1] = 20.0
    assert lip_polygon(lips).shape == (1, 20, 2)
    assert mouth_area_iou(lips, lips)[0] == pytest.approx(1.0)
    assert mouth_area_iou(closed, lips)[0] < 0.2
    assert float(mouth_opening(lips)[0]) > 0 and float(mouth_opening(closed)[0]) == pytest.approx(0.0)


def test_pearson_and_diversity() -> None:
    x = torch.arange(10.0)
    assert pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert pearson(x, -x) == pytest.approx(-1.0)
    assert pearson(x, torch.ones(10)) == 0.0
    same = torch.randn(1, 6, 7).expand(4, -1, -1)
    assert diversity(same) == 0.0
    assert diversity(torch.randn(4, 6, 7)) > 0.1
    with pytest.raises(ValueError):
        diversity(torch.randn(1, 6, 7))

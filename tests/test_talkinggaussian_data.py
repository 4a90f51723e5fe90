"""TalkingGaussian's data layer: mouth masks from the landmarks, the DataModule's extra entries, and the sampling
curricula (windows, the nearest-frame fallback that replaces the original's endless loop, DDP shares)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from talkzoo.datamodules.curriculum import Curriculum, CurriculumSampler, CurriculumSpec
from talkzoo.datamodules.mouth_masks import inner_mouth_mask, lips_rect, mouth_opening, polygon_mask
from talkzoo.zoo.face_indices import MOUTH_INNER, MOUTH_OUTER


def test_polygon_mask_fills_the_pixels_whose_centres_are_inside() -> None:
    # the square [2, 6) × [1, 4) in continuous coordinates holds the centres of columns 2..5 and rows 1..3
    square = np.array([[2.0, 1.0], [6.0, 1.0], [6.0, 4.0], [2.0, 4.0]])
    mask = polygon_mask(square, 8, 8)
    expected = np.zeros((8, 8), bool)
    expected[1:4, 2:6] = True
    np.testing.assert_array_equal(mask, expected)
    triangle = polygon_mask(np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]]), 8, 8)
    assert triangle.sum() == 28  # centres (c + 0.5) + (r + 0.5) < 8: c + r ≤ 6


def _mouth_landmarks(open_px: float) -> np.ndarray:
    """478 landmarks with an elliptic outer lip (radius 10 × 6) and an inner lip (8 × open/2) around (32, 40)."""
    lm = np.zeros((478, 3), np.float32)
    lm[:, :2] = 32.0
    for indices, (rx, ry) in ((MOUTH_OUTER, (10.0, 6.0)), (MOUTH_INNER, (8.0, open_px / 2))):
        angle = np.linspace(0, 2 * np.pi, len(indices), endpoint=False)
        lm[list(indices), 0] = 32 + rx * np.cos(angle)
        lm[list(indices), 1] = 40 + ry * np.sin(angle)
    lm[13, :2], lm[14, :2] = (32, 40 - open_px / 2), (32, 40 + open_px / 2)
    return lm


def test_mouth_regions_follow_the_lips() -> None:
    closed, wide = _mouth_landmarks(1.0), _mouth_landmarks(8.0)
    small, large = inner_mouth_mask(closed, 64, 64), inner_mouth_mask(wide, 64, 64)
    assert large.sum() > 3 * max(small.sum(), 1)
    assert inner_mouth_mask(wide, 64, 64, dilate=1).sum() > large.sum()
    r0, r1, c0, c1 = lips_rect(wide, 64, 64).tolist()
    assert r1 - r0 == c1 - c0  # square
    rows, cols = np.nonzero(large)
    assert rows.min() >= r0 and rows.max() < r1 and cols.min() >= c0 and cols.max() < c1
    assert mouth_opening(wide) == pytest.approx(8.0)
    assert lips_rect(wide, 44, 64)[1] <= 44  # clipped to the image


def test_datamodule_adds_the_mouth_entries(tiny_speaker: Path) -> None:
    from talkzoo.datamodules.talkinggaussian import TalkingGaussianDataModule

    dm = TalkingGaussianDataModule(str(tiny_speaker), size=48)
    dm.setup("fit")
    item = dm.train_set[0]
    assert item["mouth_mask"].shape == (48, 48) and item["mouth_mask"].dtype == torch.bool
    assert item["lips_rect"].shape == (4,) and item["mouth_opening"] > 0
    assert item["image"].shape == (3, 48, 48) and item["audio"].shape[:2] == (8, 16)
    values = dm.train_set.values()
    assert set(values) == {"mouth_opening", "blink", "mouth_pixels"}
    assert len(values["blink"]) == len(dm.train_set)
    assert values["mouth_pixels"][0] == int(item["mouth_mask"].sum())


def test_the_trained_module_sets_the_curriculum(tiny_speaker: Path) -> None:
    from types import SimpleNamespace

    from talkzoo.datamodules.talkinggaussian import TalkingGaussianDataModule

    dm = TalkingGaussianDataModule(str(tiny_speaker))
    dm.setup("fit")
    spec = CurriculumSpec("mouth", warm_step=1000, select_until=2000, interval=7)
    module = SimpleNamespace(sampling_curriculum=lambda: spec)
    dm.trainer = SimpleNamespace(lightning_module=module, world_size=2, global_rank=1, global_step=0)
    sampler = dm.train_dataloader().sampler
    assert isinstance(sampler, CurriculumSampler) and sampler.curriculum is not None
    assert sampler.curriculum.spec == spec and (sampler.num_replicas, sampler.rank) == (2, 1)
    widest = dm.train_set.values()["mouth_opening"]
    picks = {int(i) for i in sampler}  # in the warm-up every frame is one of the widest-open
    assert all(widest[i] >= np.percentile(widest, 95) for i in picks)


def _values(n: int = 40) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "mouth_opening": rng.uniform(1, 9, n),
        "blink": np.zeros(n),  # eyes never close: the late blink windows match nothing
        "mouth_pixels": rng.integers(0, 60, n),
    }


def test_mouth_curriculum_windows() -> None:
    values = _values()
    cur = Curriculum(CurriculumSpec("mouth", warm_step=10, select_until=100, interval=7), values)
    clipped = np.minimum(values["mouth_opening"], np.percentile(values["mouth_opening"], 95))
    g = torch.Generator().manual_seed(0)
    for step in range(1, 10):  # warm-up: every step only the widest-open frames
        assert clipped[cur.choose(step, 0, g)] >= clipped.max()
    early = cur.window(14)  # the window opens from the widest toward closed mouths
    late = cur.window(98)
    assert early is not None and late is not None and late.low < early.low
    picked = cur.choose(14, 0, g)
    assert early.low <= clipped[picked] and values["mouth_pixels"][picked] >= 20
    assert cur.window(15) is None and cur.window(200) is None


def test_face_curriculum_never_hangs_when_no_frame_fits() -> None:
    values = _values()
    cur = Curriculum(CurriculumSpec("face", warm_step=10, select_until=100, interval=15), values)
    window = cur.window(90)  # blink ∈ [0.75, 1.2]: no frame ever blinks
    assert window is not None and window.key == "blink"
    g = torch.Generator().manual_seed(0)
    picks = {cur.choose(90, 3, g) for _ in range(20)}  # all frames tie at distance 0.75: any frame, no loop
    assert len(picks) > 1
    assert cur.choose(91, 3, g) == 3  # unconstrained step: the shuffle's frame
    early = cur.window(0)  # the warm-up window asks for nearly closed mouths
    assert early is not None and early.key == "mouth_opening"
    assert early.high < values["mouth_opening"].min() + 0.5 * np.ptp(values["mouth_opening"])


def test_curriculum_sampler_is_seeded_and_splits_across_ranks() -> None:
    dataset = list(range(10))
    shares = [list(CurriculumSampler(dataset, None, lambda: 0, num_replicas=2, rank=rank, seed=3)) for rank in (0, 1)]
    assert sorted(shares[0] + shares[1]) == list(range(10))
    again = list(CurriculumSampler(dataset, None, lambda: 0, num_replicas=2, rank=0, seed=3))
    assert again == shares[0]
    values = _values(10)
    cur = Curriculum(CurriculumSpec("mouth", warm_step=1000, select_until=2000, interval=7), values)
    widest = np.minimum(values["mouth_opening"], np.percentile(values["mouth_opening"], 95)).argmax()
    assert set(CurriculumSampler(dataset, cur, lambda: 0, seed=3)) == {int(widest)}

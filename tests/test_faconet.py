"""FaCo-Net: network shapes and sizes, inference in canonical units, and learning against the mean-mesh baseline."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from talkzoo.datamodules.speaker import Speaker
from talkzoo.zoo.face_indices import EYE_INDICES, LIP_INDICES
from talkzoo.zoo.faconet import FaCoGenerator, PointDiscriminator

ROOT = Path(__file__).resolve().parents[1]


def test_shapes_and_paper_sizes() -> None:
    generator, critic = FaCoGenerator(), PointDiscriminator()
    lips, eyes, subject = torch.randn(2, 7, 40, 3), torch.randn(2, 7, 60, 3), torch.randn(2, 478, 3)
    dense = generator(lips, eyes, subject)
    assert dense.shape == (2, 7, 478, 3)
    assert critic(lips, eyes, dense, subject).shape == (2, 7, 1)
    # MODA's FaCo-Net: G ≈ 1.90 M, D ≈ 0.79 M parameters (docs/moda.md, "Layout (R → V)")
    assert abs(sum(p.numel() for p in generator.parameters()) - 1.90e6) < 0.01e6
    assert abs(sum(p.numel() for p in critic.parameters()) - 0.79e6) < 0.01e6
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in generator.modules())


def test_learns_beyond_the_mean_mesh(tiny_speaker: Path, tmp_path: Path) -> None:
    """A short CPU run beats the mean-mesh baseline on the val split (canonical L1 and pixel LMD, 478 points), and
    `compose` turns canonical lips / eyes into a canonical mesh close to the ground truth."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import moda_video_learning as script

    model, result = script.train_faconet(tiny_speaker, 60, tmp_path)
    assert result["l1"] < 0.6 * result["l1_mean_baseline"], result
    assert result["lmd"] < 0.6 * result["lmd_mean_baseline"], result
    media = model.validation_media()
    assert media is not None and media["kind"] == "motion" and media["lips_pred"].shape[1:] == (40, 2)
    assert media["mouth_pred"].shape == media["mouth_true"].shape == media["lips_true"].shape[:1]

    speaker = Speaker(tiny_speaker)
    val = speaker.split_indices("val")
    truth = torch.from_numpy(speaker.canonical[val])
    mesh = model.compose(truth[:, list(LIP_INDICES)], truth[:, list(EYE_INDICES)])
    assert mesh.shape == truth.shape and mesh.dtype == torch.float32
    mean = torch.from_numpy(model.speaker_stats[0].mesh_mean)
    assert (mesh - truth).abs().mean() < 0.6 * (mean - truth).abs().mean()

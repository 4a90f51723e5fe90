"""ER-NeRF torso: adaptive pose encoding, compositing order, neck band, frozen head, and a short learning check."""

from __future__ import annotations

import math
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from talkzoo.cli import main
from talkzoo.zoo.ernerf.pose_encoding import ANCHOR_INIT, AdaptivePoseEncoding, FrequencyEncoder, project_keypoints
from talkzoo.zoo.ernerf.torso_field import TorsoField
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.rendering.volume import composite_portrait

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "trainer" / "cpu_smoke.yaml"
SIZE = 32
SMALL_FIELD = dict(levels=8, finest_resolution=128, log2_hashmap_size=12)


def fit_tiny_head(speaker: Path, root: Path, steps: int = 2) -> Path:
    """A `talkzoo fit` head run (CPU preset, renders at SIZE², 8 samples a ray) → its last.ckpt."""
    args = [
        "fit", "--config", str(ROOT / "configs" / "ernerf_head.yaml"),
        "--config", str(ROOT / "configs" / "presets" / "ernerf_head_cpu.yaml"), "--config", str(SMOKE),
        "--trainer.default_root_dir", str(root / "ernerf_head"), "--trainer.max_steps", str(steps),
        "--data.init_args.speaker", str(speaker), "--data.init_args.size", str(SIZE),
        "--model.init_args.sampler.init_args.n_samples", "8", "--model.init_args.cpu_rays_per_step", "256",
    ]  # fmt: skip
    assert main(args) == 0
    return root / "ernerf_head" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="module")
def head_ckpt(tiny_speaker: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit_tiny_head(tiny_speaker, tmp_path_factory.mktemp("torso_runs"))


def test_keypoint_projection_matches_a_hand_computation() -> None:
    angle, scale, (h, w) = 0.3, 0.05, (40, 60)
    pose = torch.eye(4)
    pose[:3, :3] = torch.tensor(
        [[math.cos(angle), 0, math.sin(angle)], [0, 1, 0], [-math.sin(angle), 0, math.cos(angle)]]
    )
    pose[:3, 3] = torch.tensor([3.0, -2.0, 150.0])
    intr = torch.tensor([100.0, 110.0, 29.5, 19.5])
    anchors = torch.tensor([[0.5, -0.2, 0.1, 2.0], [0.01, 0.01, 0.1, 1.0], [-0.3, 0.4, -0.2, 0.5]])
    got = project_keypoints(anchors, pose, intr, scale, h, w)
    expected = []
    for x, y, z, wt in anchors.tolist():
        head = np.array([x, y, z]) / wt / scale  # box → head frame
        cam = pose[:3, :3].numpy().astype(np.float64) @ head + pose[:3, 3].numpy()
        u = 100.0 * cam[0] / cam[2] + 29.5
        v = 110.0 * cam[1] / cam[2] + 19.5
        expected.append([(2 * u + 1) / w - 1, (2 * v + 1) / h - 1])
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float32), rtol=1e-5, atol=1e-5)
    # The encoding is the frequency encoding of those 6 numbers: [p, sin p, cos p, sin 2p, cos 2p, sin 4p, cos 4p].
    enc = AdaptivePoseEncoding(multires=3)
    with torch.no_grad():
        enc.anchors.copy_(anchors)
    code = enc(pose, intr, scale, h, w)[0]
    p = got.reshape(-1)
    assert code.shape == (42,)
    torch.testing.assert_close(code[:6], p)
    torch.testing.assert_close(code[6:12], torch.sin(p))
    torch.testing.assert_close(code[36:42], torch.cos(4 * p))
    assert torch.equal(AdaptivePoseEncoding().anchors, torch.tensor(ANCHOR_INIT))
    assert FrequencyEncoder(2, 8).output_dim == 34


def test_torso_field_shapes_and_paper_dimensions() -> None:
    field = TorsoField()
    assert field.grid.output_dim == 32
    assert field.deform_net.linears[0].in_features == 84
    assert field.torso_net.linears[0].in_features == 116
    pose = torch.eye(4)
    pose[2, 3] = 100.0
    cond = field.condition(pose, torch.tensor([50.0, 50, 8, 8]), 0.05, 16, 16, torch.tensor([3]))
    out = field(torch.rand(10, 2) * 2 - 1, cond)
    assert out["alpha"].shape == (10,) and out["rgb"].shape == (10, 3)
    assert float(out["alpha"].detach().min()) >= -0.001 and float(out["alpha"].detach().max()) <= 1.001


def test_compositing_order_background_torso_head() -> None:
    head_color = torch.tensor([[0.3, 0.0, 0.0]])  # premultiplied: opacity 0.3 of pure red
    head_opacity = torch.tensor([0.3])
    torso_rgb, torso_alpha = torch.tensor([[0.0, 1.0, 0.0]]), torch.tensor([0.8])  # straight alpha, green
    background = torch.tensor([[0.0, 0.0, 1.0]])
    got = composite_portrait(head_color, head_opacity, torso_rgb, torso_alpha, background)
    # torso over bg: (0, .8, .2); head over that: (.3, .7·.8, .7·.2)
    torch.testing.assert_close(got, torch.tensor([[0.3, 0.56, 0.14]]))
    # the other order (torso over head over bg) would give .8·(0, 1, 0) + .2·(.3, 0, .7) = (.06, .8, .14)
    assert not torch.allclose(got, torch.tensor([[0.06, 0.8, 0.14]]), atol=0.05)


def test_neck_band_is_the_head_body_junction() -> None:
    from talkzoo.lightning_modules.ernerf_torso import neck_band

    parsing = torch.zeros(10, 10, dtype=torch.long)
    parsing[:5, 3:7] = 1  # head, rows 0–4
    parsing[5:, 2:8] = 3  # torso, rows 5–9
    band = neck_band(parsing, 1)
    rows = band.any(dim=1).nonzero().reshape(-1).tolist()
    assert rows == [4, 5]  # one pixel on either side of the junction
    assert not band[:, 0].any()  # far from both labels


def test_missing_head_checkpoint_names_the_command(tmp_path: Path) -> None:
    from talkzoo.lightning_modules.ernerf_torso import ERNeRFTorso

    with pytest.raises(UserError, match="configs/ernerf_head.yaml"):
        ERNeRFTorso(TorsoField(**SMALL_FIELD), head_checkpoint=str(tmp_path / "nope.ckpt"))


def test_torso_beats_head_only_over_the_background(tiny_speaker: Path, head_ckpt: Path) -> None:
    from talkzoo.datamodules.frames import FrameDataModule
    from talkzoo.lightning_modules.ernerf_torso import ERNeRFTorso

    torch.manual_seed(0)
    module = ERNeRFTorso(TorsoField(**SMALL_FIELD), head_checkpoint=str(head_ckpt), cpu_pixels_per_step=512)
    head_before = {k: v.clone() for k, v in module.head.state_dict().items()}
    data = FrameDataModule(str(tiny_speaker), size=SIZE, val_limit=3)
    trainer = L.Trainer(
        accelerator="cpu", max_steps=150, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0,
    )  # fmt: skip
    trainer.fit(module, datamodule=data)
    for key, value in module.head.state_dict().items():  # the head is frozen
        assert torch.equal(value, head_before[key]), key
    assert "head.field.individual_codes" not in module.state_dict()
    validator = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    metrics = validator.validate(module, datamodule=data, verbose=False)[0]
    assert metrics["val/psnr_torso"] > metrics["val/head_only_psnr_torso"] + 3.0, metrics
    assert metrics["val/psnr"] > metrics["val/head_only_psnr"], metrics
    media = module.validation_media()
    assert media is not None and media["kind"] == "frames"
    assert media["render"].shape == media["target"].shape == (1, SIZE, SIZE, 3) and media["render"].dtype == np.uint8

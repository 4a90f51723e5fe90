"""Section 1: one ER-NeRF head trained on the pre-made speaker through its recipe (`talkzoo fit`, fp32, backend
'auto'), then one held-out frame rendered by every sampler from the same checkpoint:

- torch / torch_fine: the torch sampler at the recipe's samples per ray and at `fine_samples`;
- nerfacc / nerfacc_fine (CUDA): nerfacc's marching at the recipe's step (≤ 16 samples a ray) and at step /
  `fine_step_divisor` without a cap. Converged, both integrate the same field through the same occupancy grid, so
  nerfacc_fine and torch_fine must agree: PSNR ≥ 30 dB over the head (the parsing mask);
- packed (CUDA): the torch sampler's samples repacked as nerfacc's packed layout, composited by nerfacc's packed
  kernels: the same numbers as the batched compositing (max |Δ| ≤ 1e-4).
Plus render time per frame of each, and a learning sanity check: the trained head beats the backdrop alone.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from torch import nn

from talkzoo.gpu.checks import CheckSpec
from talkzoo.gpu.checks.common import CheckContext, Outcome, nerfacc_status, psnr, timed
from talkzoo.gpu.checks.recipes import fit

FINE_PSNR_DB = 30.0
PACKED_TOLERANCE = 1e-4


class PackedTorchSampler(nn.Module):
    """The torch sampler's samples in nerfacc's packed layout (sorted by ray), to compare the two compositings."""

    def __init__(self, sampler: nn.Module) -> None:
        super().__init__()
        self.inner = sampler

    def sample(self, rays_o: torch.Tensor, rays_d: torch.Tensor, stratified: bool) -> Any:
        from talkzoo.zoo.rendering.samplers import RaySamples

        batched = self.inner.sample_torch(rays_o, rays_d, stratified)
        rows, cols = batched.mask.nonzero(as_tuple=True)  # row-major: sorted by ray, as nerfacc packs
        return RaySamples(batched.t_starts[rows, cols], batched.t_ends[rows, cols], batched.n_rays, ray_indices=rows)


def _variant(sampler: nn.Module, backend: str, **settings: Any) -> nn.Module:
    """A copy of the trained sampler (same occupancy grid) with another backend / sampling density."""
    copied = copy.deepcopy(sampler)
    copied.backend = backend
    for name, value in settings.items():
        setattr(copied, name, value)
    return copied


def _val_batch(ctx: CheckContext) -> dict[str, torch.Tensor]:
    from talkzoo.datamodules.frames import FrameDataModule

    data = FrameDataModule(str(ctx.require_speaker()), size=ctx.profile.size, val_limit=1, num_workers=0)
    data.setup("fit")
    batch = next(iter(data.val_dataloader()))
    return {k: v.to(ctx.device) if torch.is_tensor(v) else v for k, v in batch.items()}


def run(ctx: CheckContext, spec: CheckSpec) -> Outcome:
    from talkzoo.lightning_modules.ernerf_head import ERNeRFHead
    from talkzoo.lightning_modules.run_loading import load_run_module
    from talkzoo.zoo.rendering.volume import over

    outcome = Outcome()
    available, reason = nerfacc_status() if ctx.cuda else (False, "nerfacc's marching is CUDA-only")
    outcome.metric("nerfacc_available", available)
    outcome.metric("nerfacc_reason", reason)
    profile = ctx.profile
    probe = fit(ctx, "ernerf_head", "32-true", profile.sampler_train_steps, profile.sampler_train_seconds,
                ctx.work / "sampler")  # fmt: skip
    run_dir = Path(probe.root_dir or "")
    outcome.metric("train/batches", len(probe.steps))
    outcome.metric("train/batches_per_s", len(probe.steps) / probe.seconds if probe.seconds else None)
    module = load_run_module(run_dir / "checkpoints" / "last.ckpt", expected=ERNeRFHead).to(ctx.device)
    module.hparams.val_chunk = 65536 if ctx.cuda else 4096
    batch = _val_batch(ctx)
    truth = batch["image"][0]
    head = batch["parsing"][0] == 1
    backdrop = over(batch["torso"][0].movedim(0, -1), batch["background"][0].movedim(0, -1)).movedim(-1, 0)
    trained = module.sampler
    outcome.metric("size", int(truth.shape[-1]))
    outcome.metric("head_pixels", int(head.sum()))

    variants: dict[str, nn.Module] = {
        "torch": _variant(trained, "torch"),
        "torch_fine": _variant(trained, "torch", n_samples=profile.fine_samples),
    }
    if ctx.cuda and available:
        fine_step = trained.step_size / profile.fine_step_divisor
        variants["nerfacc"] = _variant(trained, "nerfacc")
        variants["nerfacc_fine"] = _variant(trained, "nerfacc", step_size=fine_step, max_samples=None)
        variants["packed"] = PackedTorchSampler(_variant(trained, "torch"))
    elif ctx.cuda:
        outcome.criterion("nerfacc's CUDA extension is available", False, reason)
    else:
        outcome.note("CPU rehearsal: the nerfacc and packed renders are CUDA-only and were not run")
    images: dict[str, torch.Tensor] = {}
    for name, sampler in variants.items():
        with outcome.attempt(name):
            module.sampler = sampler
            with torch.no_grad():
                module.render_frame(batch)  # warm-up (kernels, allocator)
                out, seconds = timed(ctx.device, lambda: module.render_frame(batch))
            images[name] = out["image"]
            outcome.metric(f"{name}/render_s", seconds)
            outcome.metric(f"{name}/psnr_head_vs_truth", psnr(out["image"], truth, head))
    module.sampler = trained

    outcome.criterion("renders are finite", all(bool(torch.isfinite(i).all()) for i in images.values()))
    if "torch" in images:
        learned, baseline = psnr(images["torch"], truth, head), psnr(backdrop, truth, head)
        outcome.metric("backdrop_only/psnr_head_vs_truth", baseline)
        outcome.criterion("the trained head beats the backdrop alone", learned > baseline,
                          f"head region {learned:.2f} dB vs {baseline:.2f} dB")  # fmt: skip
    if "torch" in images and "torch_fine" in images:
        outcome.metric("torch_vs_torch_fine/psnr_head", psnr(images["torch"], images["torch_fine"], head))
    if "nerfacc" in images and "torch" in images:
        outcome.metric("nerfacc_vs_torch/psnr_head", psnr(images["nerfacc"], images["torch"], head))
    if "nerfacc_fine" in images and "torch_fine" in images:
        value = psnr(images["nerfacc_fine"], images["torch_fine"], head)
        outcome.metric("nerfacc_fine_vs_torch_fine/psnr_head", value)
        outcome.criterion(f"nerfacc and torch samplers agree when converged (≥ {FINE_PSNR_DB:.0f} dB)",
                          value >= FINE_PSNR_DB, f"{value:.2f} dB over {int(head.sum())} head pixels")  # fmt: skip
    if "packed" in images and "torch" in images:
        diff = float((images["packed"] - images["torch"]).abs().max())
        outcome.metric("packed_vs_batched/max_abs_diff", diff)
        outcome.criterion(f"packed = batched compositing (≤ {PACKED_TOLERANCE:g})", diff <= PACKED_TOLERANCE,
                          f"max |Δ| {diff:.3g}")  # fmt: skip
    return outcome

"""ER-NeRF head learning check on a synthetic speaker (CPU, bounded budget).

Trains `ERNeRFHead` with the CPU preset's networks for `--steps` steps, then on the held-out (val) frames reports
- PSNR on the head region (parsing == 1) of the full-frame render vs a static baseline (the mean training frame),
- whether the rendered mouth opening follows the held-out audio: Pearson correlation between a mouth-opening
  proxy (inner-mouth darkness, talkzoo.zoo.metrics.head_region) measured on the renders and the ground-truth lip
  gap (landmarks 13–14); its correlation on the GT frames themselves is reported as the proxy's ceiling.

    .venv/bin/python scripts/ernerf_head_learning.py --out outputs/ernerf_learning --size 96 --seconds 16 --steps 1200
Prints one JSON line of results (also written to OUT/results.json).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from talkzoo.zoo.metrics.head_region import HeadRegionScores


def build_module(
    cpu_rays: int = 1024, levels: int = 8, n_samples: int = 24, resolution: int = 48, face_rays: float = 0.5
) -> Any:
    """The CPU preset's module (configs/presets/ernerf_head_cpu.yaml) built in Python."""
    from talkzoo.lightning_modules.ernerf_head import ERNeRFHead
    from talkzoo.zoo.ernerf import HeadField
    from talkzoo.zoo.rendering import GridSampler

    field = HeadField(audio_in=80, levels=levels, base_resolution=16, finest_resolution=256, ind_num=10000)
    step = 2 * math.sqrt(3) / resolution
    sampler = GridSampler(backend="torch", resolution=resolution, step_size=step, occ_threshold=10 * step,
                          n_samples=n_samples)  # fmt: skip
    return ERNeRFHead(field, sampler, cpu_rays_per_step=cpu_rays, cpu_update_cells=16384, face_ray_fraction=face_rays)


def evaluate(module: Any, datamodule: Any, mean_frame: torch.Tensor) -> dict[str, float]:
    """Head-region PSNR of renders and of the mean frame, and the mouth-opening proxy, on the val frames
    (talkzoo.zoo.metrics.head_region)."""
    module.eval()
    scores = HeadRegionScores(mean_frame)
    for batch in datamodule.val_dataloader():
        image = module.render_frame(batch)["image"]
        scores.add(image, batch["image"][0], batch["parsing"][0], batch["landmarks"][0])
    return scores.compute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="outputs/ernerf_learning")
    parser.add_argument("--speaker", default=None, help="use this speaker folder instead of synthesising one")
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--seconds", type=float, default=16.0)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--rays", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--face-rays", type=float, default=0.5, help="share of rays drawn in the face rectangle")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-limit", type=int, default=None, help="evaluate only the first N val frames")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    speaker = Path(args.speaker) if args.speaker else out / "speaker"
    if not (speaker / "speaker.json").is_file():
        from talkzoo.datamodules.synthetic import synthesize

        synthesize(out, seconds=args.seconds, size=args.size, seed=args.seed, progress=False)

    import lightning as L

    from talkzoo.datamodules.frames import FrameDataModule

    L.seed_everything(args.seed)
    datamodule = FrameDataModule(str(speaker), batch_size=1, num_workers=0, size=args.size, val_limit=args.val_limit)
    datamodule.setup("fit")
    module = build_module(args.rays, face_rays=args.face_rays)
    trainer = L.Trainer(
        accelerator="cpu", max_steps=args.steps, max_epochs=-1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, limit_val_batches=0, num_sanity_val_steps=0, enable_model_summary=False,
    )  # fmt: skip
    start = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    train_s = time.perf_counter() - start
    torch.save(module.state_dict(), out / "head.pt")
    mean_frame = torch.stack([item["image"] for item in datamodule.train_set]).mean(dim=0)
    start = time.perf_counter()
    results = evaluate(module, datamodule, mean_frame)
    results.update(
        steps=args.steps, rays_per_step=args.rays, size=args.size, seconds=args.seconds,
        train_frames=len(datamodule.train_set), train_s=round(train_s, 1),
        eval_s=round(time.perf_counter() - start, 1), threads=args.threads, face_rays=args.face_rays,
    )  # fmt: skip
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results))


if __name__ == "__main__":
    main()

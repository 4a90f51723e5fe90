"""ER-NeRF head learning check on a synthetic speaker (CPU, bounded budget).

Trains `ERNeRFHead` with the CPU preset's networks for `--steps` steps, then on the held-out (val) frames reports
- PSNR on the head region (parsing == 1) of the full-frame render vs a static baseline (the mean training frame),
- whether the rendered mouth opening follows the held-out audio: Pearson correlation between a mouth-opening
  proxy measured on the renders and the ground-truth lip gap (landmarks 13–14). The proxy is the darkness of the
  inner mouth: mean of max(0, τ − luminance) in a box hanging from the upper inner lip, of one fixed height for
  all frames (so a mouth that does not open scores a constant, not a spurious correlation); its correlation with
  the lip gap on the GT frames themselves is reported as the proxy's ceiling.

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

import numpy as np
import torch


def mouth_darkness(image: torch.Tensor, landmarks: torch.Tensor, height: int, tau: float = 0.35) -> float:
    """Inner-mouth darkness in a box that does not move with the jaw: image [3, H, W] in [0, 1], landmarks [478, 3]
    px → mean max(0, τ − luminance) over rows [upper inner lip − 1, + height), cols between the mouth corners.
    `height` is fixed for the whole evaluation (the largest lip gap + 3 px), so a static mouth scores a constant."""
    from talkzoo.zoo.face_indices import MOUTH_INNER, UPPER_INNER_LIP_MID

    pts = landmarks[list(MOUTH_INNER), :2]
    c0, c1 = int(pts[:, 0].min().floor()), int(pts[:, 0].max().ceil())
    r0 = int(landmarks[UPPER_INNER_LIP_MID, 1].floor()) - 1
    luminance = 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]
    box = luminance[max(r0, 0) : max(r0, 0) + height, max(c0, 0) : max(c1, c0 + 2)]
    return float((tau - box).clamp(min=0).mean())


def pearson(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.std() < 1e-12 or y.std() < 1e-12:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


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
    """Head-region PSNR of renders and of the mean frame, and the mouth-opening correlations, on the val frames."""
    from talkzoo.zoo.face_indices import LOWER_INNER_LIP_MID, UPPER_INNER_LIP_MID

    module.eval()
    err_model, err_base, count = 0.0, 0.0, 0
    renders, targets, landmarks, gap = [], [], [], []
    for batch in datamodule.val_dataloader():
        out = module.render_frame(batch)
        image, target = out["image"], batch["image"][0]
        head = batch["parsing"][0] == 1
        err_model += float(((image - target) ** 2).mean(dim=0)[head].sum())
        err_base += float(((mean_frame - target) ** 2).mean(dim=0)[head].sum())
        count += int(head.sum())
        lm = batch["landmarks"][0]
        renders.append(image)
        targets.append(target)
        landmarks.append(lm)
        gap.append(float((lm[LOWER_INNER_LIP_MID, :2] - lm[UPPER_INNER_LIP_MID, :2]).norm()))
    height = int(math.ceil(max(gap))) + 3
    proxy_render = [mouth_darkness(im, lm, height) for im, lm in zip(renders, landmarks, strict=True)]
    proxy_gt = [mouth_darkness(im, lm, height) for im, lm in zip(targets, landmarks, strict=True)]
    return {
        "val_frames": len(gap),
        "psnr_head": -10 * math.log10(err_model / count),
        "psnr_head_mean_frame": -10 * math.log10(err_base / count),
        "mouth_corr_render_vs_gap": pearson(proxy_render, gap),
        "mouth_corr_gt_proxy_vs_gap": pearson(proxy_gt, gap),
        "mouth_corr_render_vs_gt_proxy": pearson(proxy_render, proxy_gt),
        "mouth_proxy_render_std": float(np.std(proxy_render)),
        "mouth_proxy_gt_std": float(np.std(proxy_gt)),
    }


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

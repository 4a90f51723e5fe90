"""MODA's R→V half on a synthetic speaker: does the renderer learn the speaker, and does the generated video's mouth
follow held-out audio?

1. Renderer (configs/portrait_renderer.yaml + the CPU preset's networks) trained for a bounded number of batches on
   the train split; val PSNR / SSIM against the ground-truth frames, next to two trivial baselines: the reference
   image and the mean train frame.
2. (unless --renderer-only) MODA (CPU preset) and FaCo-Net (CPU preset) trained on the train split; FaCo-Net's val
   dense L1 / LMD next to the mean-mesh baseline; then `generate_moda` on the val split's audio (never seen in
   training), MediaPipe FaceMesh on the output frames, and the Pearson correlation of the detected mouth opening
   (landmarks 13–14) with the ground truth's (bar: ρ ≥ 0.7).

    python scripts/moda_video_learning.py --seconds 20 --size 128           # synthesises outputs/video_learning
    python scripts/moda_video_learning.py --speaker S --renderer-batches 600
    python scripts/moda_video_learning.py --speaker S --fast --renderer-only  # the tests' check (64², L1 only)
    python scripts/moda_video_learning.py --speaker S --size 96 --renderer-only --reference mean --no-tpe \
        --strip frames.png   # the CPU preset's real-video settings (docs/moda.md, "Renderer on real video")
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _trainer(max_steps: int, root: Path, val_every: int | None = None) -> Any:
    from lightning.pytorch import Trainer

    return Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=max_steps,
        max_epochs=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        check_val_every_n_epoch=None if val_every else 1,
        val_check_interval=val_every,
        default_root_dir=str(root),
    )


def renderer_module(
    ngf: int = 16,
    num_downs: int = 5,
    gan: bool = True,
    lr: float = 5e-4,
    residual: bool = True,
    mouth_weight: float = 0.0,
    upsample: str = "bilinear",
    full_resolution: bool = True,
    use_tpe: bool = True,
) -> Any:
    """A PortraitRenderer with the CPU preset's settings (configs/presets/portrait_renderer_cpu.yaml); `gan=False`
    drops the discriminator (L1 only: the tests' fast check); `upsample="nearest", full_resolution=False` is MODA's
    generator."""
    from talkzoo.lightning_modules.portrait_renderer import PortraitRenderer
    from talkzoo.zoo.portrait import MultiscaleDiscriminator, UNetGenerator

    disc = MultiscaleDiscriminator(22, ndf=16, n_layers=3, num_d=2, max_channels=64) if gan else None
    generator = UNetGenerator(
        19, 3, ngf=ngf, num_downs=num_downs, max_channels=128, upsample=upsample, full_resolution=full_resolution
    )
    return PortraitRenderer(
        generator, disc, perceptual="feature_matching", lr=lr, decay_after=0.5, residual=residual,
        mouth_weight=mouth_weight, use_tpe=use_tpe,
    )  # fmt: skip


def mean_frame_psnr(speaker_root: Path, size: int) -> dict[str, float]:
    """PSNR (dB) on the val frames at `size` of the mean train frame and of the reference (train frame 0)."""
    from talkzoo.datamodules.resize import resize_image
    from talkzoo.datamodules.speaker import Speaker

    speaker = Speaker(speaker_root)
    train = speaker.split_indices("train")
    mean = np.mean([resize_image(speaker.frame(int(i)), size, size).astype(np.float64) for i in train], axis=0)
    ref = resize_image(speaker.frame(int(train[0])), size, size).astype(np.float64)
    errors: dict[str, list[float]] = {"mean_frame": [], "reference": []}
    for i in speaker.split_indices("val"):
        target = resize_image(speaker.frame(int(i)), size, size).astype(np.float64)
        errors["mean_frame"].append(float(np.mean((np.round(mean) - target) ** 2)))
        errors["reference"].append(float(np.mean((ref - target) ** 2)))
    return {f"psnr_{k}": 10 * np.log10(255.0**2 / np.mean(v)) for k, v in errors.items()}


def train_renderer(
    speaker_root: Path, size: int, batches: int, work: Path, reference: str = "frame", **kwargs: Any
) -> tuple[Any, dict]:
    """Train the CPU renderer for `batches` batches (reference: the data's "frame" or "mean" reference image);
    returns (module, {val psnr, ssim, fit_s})."""
    import lightning as L

    from talkzoo.datamodules.portrait import PortraitDataModule

    L.seed_everything(0, verbose=False)  # initialisation independent of what ran before in the process
    data = PortraitDataModule(str(speaker_root), size=size, batch_size=4, seed=0, reference=reference)
    model = renderer_module(**kwargs)
    steps = batches * (2 if model.discriminator is not None else 1)
    trainer = _trainer(steps, work / "renderer")
    start = time.perf_counter()
    trainer.fit(model, datamodule=data)
    fit_s = time.perf_counter() - start
    metrics = trainer.validate(model, datamodule=data, verbose=False)[0]
    return model, {
        "psnr": metrics["val/psnr"],
        "ssim": metrics["val/ssim"],
        "psnr_reference_image": metrics["val/psnr_reference"],
        "mouth_l1": metrics.get("val/mouth_l1", float("nan")),
        "mouth_l1_reference_image": metrics.get("val/mouth_l1_reference", float("nan")),
        "fit_s": fit_s,
    }


def train_faconet(speaker_root: Path, batches: int, work: Path) -> tuple[Any, dict]:
    """FaCo-Net with the CPU preset's data settings; returns (module, val metrics)."""
    from talkzoo.datamodules.sequence import MotionDataModule
    from talkzoo.lightning_modules.faconet import FaCoNet
    from talkzoo.zoo.faconet import FaCoGenerator, PointDiscriminator

    data = MotionDataModule(
        [str(speaker_root)], window=50, stride=10, jitter=10, batch_size=16,
        keys=["lips", "eyes", "mesh", "subject", "head"],
    )  # fmt: skip
    model = FaCoNet(FaCoGenerator(), PointDiscriminator())
    trainer = _trainer(2 * batches, work / "faconet")
    start = time.perf_counter()
    trainer.fit(model, datamodule=data)
    fit_s = time.perf_counter() - start
    m = trainer.validate(model, datamodule=data, verbose=False)[0]
    keys = ("val/l1", "val/l1_mean_baseline", "val/lmd", "val/lmd_mean_baseline")
    return model, {**{k.split("/")[1]: m[k] for k in keys}, "fit_s": fit_s}


def train_moda(speaker_root: Path, steps: int, work: Path) -> Any:
    """MODA with the CPU preset (dual attention, d 64)."""
    from talkzoo.datamodules.sequence import MotionDataModule
    from talkzoo.lightning_modules.moda import MODA
    from talkzoo.zoo.moda import DualAttention, MelConvEncoder

    data = MotionDataModule([str(speaker_root)], window=100, stride=10, jitter=10, batch_size=8)
    model = MODA(MelConvEncoder(80, 64), DualAttention(64, 4, 2, 128, 0.1, period=25), hidden=64, lips_hidden=256,
                 tail_hidden=128, lr=2e-3, warmup_steps=30, predict_window=100, predict_stride=75)  # fmt: skip
    _trainer(steps, work / "moda").fit(model, datamodule=data)
    return model


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else float("nan")


def true_opening(speaker_root: Path, frames: np.ndarray) -> np.ndarray:
    """Ground-truth mouth opening (px, landmarks 13–14) of `frames`."""
    from talkzoo.datamodules.speaker import Speaker

    marks = Speaker(speaker_root).landmarks[frames]
    return np.linalg.norm(marks[:, 13, :2] - marks[:, 14, :2], axis=-1)


def mouth_correlation(
    video: Path | list[np.ndarray], speaker_root: Path, frames: np.ndarray, upscale: int = 256
) -> dict:
    """MediaPipe on the frames of `video` (a file or a list of uint8 images; upscaled to `upscale`) vs the
    ground-truth mouth opening of `frames`."""
    import cv2

    from talkzoo.datamodules.media import iter_frames
    from talkzoo.datamodules.preprocess.tracking import FrameAnalyzer

    truth = true_opening(speaker_root, frames)
    analyzer = FrameAnalyzer()
    opening, detected = [], 0
    try:
        for image in iter_frames(video) if isinstance(video, Path) else video:
            scale = upscale / image.shape[0]
            big = cv2.resize(image, (upscale, int(round(image.shape[1] * scale))), interpolation=cv2.INTER_CUBIC)
            points = analyzer.landmarks(big)
            if points is None:
                opening.append(np.nan)
                continue
            detected += 1
            opening.append(float(np.linalg.norm(points[13, :2] - points[14, :2])) / scale)
    finally:
        analyzer.close()
    pred = np.asarray(opening[: len(truth)])
    n = min(len(pred), len(truth))
    return {"mouth_corr": _pearson(pred[:n], truth[:n]), "frames": int(n), "detected": int(detected)}


def render_val(renderer: Any, speaker_root: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """The trained renderer on the val split's own condition images (the speaker's mesh and pose): (frames, images)."""
    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.zoo.portrait import condition_image

    s = Speaker(speaker_root)
    val = s.split_indices("val")
    info = renderer.speaker_info
    conds = np.stack([
        condition_image(s.canonical[i], s.shoulders[i], s.pose[i], renderer.camera, info["height"], info["width"],
                        info["thickness"]) for i in val
    ])  # fmt: skip
    return val, list(renderer.eval().render(conds, val))


def save_strip(path: Path, renderer: Any, speaker_root: Path, images: list[np.ndarray], count: int = 6) -> None:
    """A PNG: `count` val frames, ground truth (top) over the render (bottom), at the render size."""
    import cv2

    from talkzoo.datamodules.resize import resize_image
    from talkzoo.datamodules.speaker import Speaker

    s = Speaker(speaker_root)
    val = s.split_indices("val")
    picks = np.linspace(0, len(images) - 1, count).round().astype(int)
    h, w = images[0].shape[:2]
    top = np.concatenate([resize_image(s.frame(int(val[i])), h, w) for i in picks], axis=1)
    bottom = np.concatenate([images[i] for i in picks], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate([top, bottom], axis=0), cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speaker", type=Path, help="speaker folder (default: synthesise one)")
    parser.add_argument("--out", type=Path, default=Path("outputs/video_learning"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--size", type=int, default=128, help="synthetic speaker size and render size")
    parser.add_argument("--renderer-batches", type=int, default=600)
    parser.add_argument("--faconet-batches", type=int, default=300)
    parser.add_argument("--moda-steps", type=int, default=300)
    parser.add_argument("--renderer-only", action="store_true")
    parser.add_argument("--no-gan", action="store_true", help="renderer without discriminator (L1 only)")
    parser.add_argument("--mouth-weight", type=float, default=0.0, help="renderer's extra L1 weight on the mouth box")
    parser.add_argument(
        "--moda-generator",
        action="store_true",
        help="MODA's generator (nearest upsampling, no full-resolution level) instead of the preset's",
    )
    parser.add_argument("--no-residual", action="store_true", help="renderer predicts the frame, not reference + Δ")
    parser.add_argument("--reference", choices=("frame", "mean"), default="frame", help="the renderer's reference")
    parser.add_argument("--no-tpe", action="store_true", help="renderer without TPE (zero planes)")
    parser.add_argument("--renderer-size", type=int, help="render size (default: --size)")
    parser.add_argument("--strip", type=Path, help="write a PNG of val frames: ground truth over the render")
    parser.add_argument("--fast", action="store_true", help="tiny budgets (tests): 64², 150 renderer batches")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--threads", type=int, help="torch threads (1 is much faster on a busy shared machine)")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.fast:
        args.size, args.renderer_batches, args.no_gan = 64, 60, True
    speaker = args.speaker
    if speaker is None:
        from talkzoo.datamodules.synthetic import synthesize

        speaker = args.out / "synth" / "speaker"
        if not (speaker / "speaker.json").is_file():
            synthesize(args.out / "synth", seconds=args.seconds, size=args.size, seed=0, progress=True)
    work = args.out / "work"
    results: dict[str, Any] = {"speaker": str(speaker), "size": args.size}
    size = args.renderer_size or args.size
    print(f"training the renderer ({args.renderer_batches} batches at {size}²)", flush=True)
    generator = {"upsample": "nearest", "full_resolution": False} if args.moda_generator else {}
    renderer, results["renderer"] = train_renderer(
        speaker, size, args.renderer_batches, work, gan=not args.no_gan, mouth_weight=args.mouth_weight,
        residual=not args.no_residual, use_tpe=not args.no_tpe, reference=args.reference, **generator,
    )  # fmt: skip
    results["renderer"].update(mean_frame_psnr(speaker, size))
    val, images = render_val(renderer, speaker)
    faces = mouth_correlation(images, speaker, val)
    results["renderer"].update(faces_found=faces["detected"] / max(1, faces["frames"]), mouth_corr=faces["mouth_corr"])
    if args.strip:
        save_strip(args.strip, renderer, speaker, images)
    print(json.dumps(results["renderer"], indent=1), flush=True)
    if not args.renderer_only:
        from talkzoo.avatars import avatar_frames
        from talkzoo.avatars.moda import MODAAvatar
        from talkzoo.datamodules.media import write_video
        from talkzoo.datamodules.speaker import Speaker

        print(f"training FaCo-Net ({args.faconet_batches} batches), then MODA ({args.moda_steps} steps)", flush=True)
        faconet, results["faconet"] = train_faconet(speaker, args.faconet_batches, work)
        print(json.dumps(results["faconet"], indent=1), flush=True)
        moda = train_moda(speaker, args.moda_steps, work)
        s = Speaker(speaker)
        val = s.split_indices("val")
        spf = s.meta.sample_rate / s.meta.fps
        wave = s.audio()[int(round(val[0] * spf)) : int(round((val[-1] + 1) * spf))]
        avatar = MODAAvatar(moda.eval(), faconet.eval(), renderer.eval(), s.name, torch.device("cpu"), seed=0)
        video = args.out / "heldout.mp4"
        write_video(video, avatar_frames(avatar, np.asarray(wave, dtype=np.float32)), s.meta.fps, wave, 16000)
        geometry = {"mesh": avatar.meshes.values, "pose": avatar.poses.values}
        results["generate"] = mouth_correlation(video, speaker, val)
        # where a low correlation comes from: the motion itself, the renderer, or the MediaPipe measurement
        from talkzoo.zoo.portrait import condition_image, project

        cam = renderer.camera.scaled(args.size, args.size)
        lips_px = project(geometry["mesh"], geometry["pose"], cam)
        motion = np.linalg.norm(lips_px[:, 13] - lips_px[:, 14], axis=-1)
        results["generate"]["motion_corr"] = _pearson(motion[: len(val)], true_opening(speaker, val)[: len(motion)])
        info = renderer.speaker_info
        conds = np.stack([
            condition_image(s.canonical[i], s.shoulders[i], s.pose[i], renderer.camera, info["height"], info["width"],
                            info["thickness"]) for i in val
        ])  # fmt: skip
        gt_render = list(renderer.render(conds, val))
        results["generate"]["render_gt_condition_corr"] = mouth_correlation(gt_render, speaker, val)["mouth_corr"]
        ground_truth = [s.frame(int(i)) for i in val]
        results["generate"]["mediapipe_on_truth_corr"] = mouth_correlation(ground_truth, speaker, val)["mouth_corr"]
        print(json.dumps(results["generate"], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    r = results["renderer"]
    ok = r["psnr"] > max(r["psnr_reference"], r["psnr_mean_frame"])
    print(f"renderer val PSNR {r['psnr']:.2f} dB vs reference {r['psnr_reference']:.2f} / mean frame "
          f"{r['psnr_mean_frame']:.2f}: {'PASS' if ok else 'FAIL'}")  # fmt: skip
    if "generate" in results:
        rho = results["generate"]["mouth_corr"]
        print(f"held-out mouth-opening correlation {rho:.3f} (bar 0.7): {'PASS' if rho >= 0.7 else 'FAIL'}")
        ok = ok and rho >= 0.7
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

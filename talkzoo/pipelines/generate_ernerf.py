"""`talkzoo generate --method ernerf`: new audio → a talking-portrait video from a trained ER-NeRF head (+ torso).

    talkzoo generate --method ernerf --speaker S --audio A.wav --out O.mp4 --head HEAD.ckpt [--torso TORSO.ckpt]
    talkzoo generate --method ernerf --speaker S --audio A.wav --out O.mp4 --run-dir runs --moda MODA.ckpt

Pipeline: the audio (wav / ogg / mp4, any rate; made 16 kHz mono) → the head's audio features (the extractor named
by the head run's `data.feature`, talkzoo.zoo.audio.extract) → per-frame windows [C, K, D] exactly as FrameDataModule
builds them (context frames i − C/2 … i + C/2 − 1, zero outside the clip) → per frame: head motion + blink
(talkzoo.pipelines.ernerf_motion: the smoothed training-pose path, or MODA's prediction) → head volume render (+ torso
field when given, composited background → torso → head; without a torso the head is composited over the static
background) → mp4 with the audio muxed. Frames are rendered in ray chunks (`--chunk`) and streamed to the encoder
one at a time, so memory does not grow with the length of the audio. Individual codes: code 0 (ER-NeRF).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkzoo.zoo.errors import UserError

TORSO_COMMAND = "talkzoo fit --config configs/ernerf_torso.yaml [--config configs/presets/ernerf_torso_cpu.yaml]"


def _data_config(checkpoint: Path) -> dict[str, Any]:
    """`data.init_args` of the run that trained `checkpoint` ({} when unknown)."""
    import yaml

    from talkzoo.lightning_modules.run_loading import find_run_config

    config = find_run_config(checkpoint)
    if config is None:
        return {}
    data = (yaml.safe_load(config.read_text()) or {}).get("data") or {}
    return dict(data.get("init_args") or {})


def _resolve_checkpoints(
    head: str | Path | None, torso: str | Path | None, run_dir: str | Path | None
) -> tuple[Path, Path | None]:
    """(head, torso) checkpoints from explicit paths, a run folder (<DIR>/ernerf_head|ernerf_torso/checkpoints/
    last.ckpt), or the head path stored in the torso run's config."""
    from talkzoo.lightning_modules.ernerf_torso import HEAD_COMMAND
    from talkzoo.lightning_modules.run_loading import model_config

    if run_dir is not None:
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise UserError(f"--run-dir {run_dir}: no such folder; give the folder holding ernerf_head/ (e.g. runs)")
        candidate = run_dir / "ernerf_torso" / "checkpoints" / "last.ckpt"
        torso = torso if torso is not None else (candidate if candidate.is_file() else None)
        head = head if head is not None else run_dir / "ernerf_head" / "checkpoints" / "last.ckpt"
    if torso is not None:
        torso = Path(torso)
        if not torso.is_file():
            raise UserError(f"torso checkpoint {torso} not found; train the torso: {TORSO_COMMAND}")
        if head is None:
            head = (model_config(torso).get("init_args") or {}).get("head_checkpoint")
    if head is None:
        raise UserError("no head checkpoint: pass --head CKPT (or --run-dir DIR holding ernerf_head/checkpoints/)")
    head = Path(head)
    if not head.is_file():
        raise UserError(f"head checkpoint {head} not found; train the head first: {HEAD_COMMAND}, or pass --head")
    return head, torso


def _load_moda(path: str | Path) -> Any:
    from talkzoo.lightning_modules.moda import MODA

    path = Path(path)
    if not path.is_file():
        raise UserError(f"MODA checkpoint {path} not found; train it: talkzoo fit --config configs/moda.yaml")
    try:
        return MODA.load_from_checkpoint(path, map_location="cpu").eval()
    except (RuntimeError, KeyError, TypeError, EOFError) as exc:
        raise UserError(f"{path}: not a MODA checkpoint ({exc}); give a checkpoint of configs/moda.yaml") from exc


def generate_ernerf(
    speaker: str | Path,
    audio_path: str | Path,
    out: str | Path,
    head_ckpt: str | Path | None = None,
    torso_ckpt: str | Path | None = None,
    moda_ckpt: str | Path | None = None,
    progress: bool = True,
    run_dir: str | Path | None = None,
    motion: str | None = None,
    chunk: int = 16384,
    smooth: float = 2.0,
    moda_speaker: int = 0,
) -> Path:
    """Render `audio_path` as an mp4 at `out` with the speaker's ER-NeRF head (+ torso); returns `out`.

    motion: "training" (the smoothed ping-pong training-pose path) or "moda" (needs `moda_ckpt`); None picks "moda"
    when a MODA checkpoint is given. chunk: rays per render chunk. smooth: Gaussian σ (frames) on the pose path.
    Raises UserError for missing / wrong files and options.
    """
    from talkzoo.datamodules.alignment import feature_windows
    from talkzoo.datamodules.boundary import open_speaker
    from talkzoo.datamodules.media import read_audio, write_video
    from talkzoo.datamodules.resize import resize_image, scale_intrinsics, target_size
    from talkzoo.lightning_modules.ernerf_torso import ERNeRFTorso, load_head, render_head_layer
    from talkzoo.lightning_modules.run_loading import load_run_module
    from talkzoo.pipelines import ernerf_motion
    from talkzoo.zoo.audio import extract
    from talkzoo.zoo.rendering.rays import pixel_grid
    from talkzoo.zoo.rendering.volume import composite

    motion = motion or ("moda" if moda_ckpt is not None else "training")
    if motion not in ("training", "moda"):
        raise UserError(f"--motion {motion!r}: choose training or moda")
    if motion == "moda" and moda_ckpt is None:
        raise UserError("--motion moda needs a MODA checkpoint: pass --moda CKPT")
    if chunk <= 0 or smooth < 0:
        raise UserError(f"--chunk must be > 0 and --smooth ≥ 0 (got {chunk}, {smooth})")
    head_path, torso_path = _resolve_checkpoints(head_ckpt, torso_ckpt, run_dir)
    spk = open_speaker(str(speaker))
    meta = spk.meta
    wave = read_audio(audio_path, sample_rate=16000)
    if wave.size == 0:
        raise UserError(f"{audio_path}: the audio stream is empty; give a file with speech")
    fps = float(meta.fps)
    num_frames = max(1, int(round(len(wave) / 16000 * fps)))

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    head = load_head(head_path).to(device)
    torso = None
    if torso_path is not None:
        torso = load_run_module(torso_path, ERNeRFTorso, {"head_checkpoint": str(head_path)},
                                missing_hint=f"train the torso: {TORSO_COMMAND}").to(device)  # fmt: skip
        head = torso.head
    data = _data_config(head_path)
    feature_name = str(data.get("feature", "mel"))
    window, context = int(data.get("audio_window", 16)), int(data.get("audio_context", 8))
    features = extract(feature_name, wave, 16000)
    head_in = head.field.audio_net.convs[0].in_channels
    if features.dim != head_in:
        raise UserError(f"the head expects {head_in}-d audio features but {feature_name!r} gives {features.dim}")

    train = spk.split_indices("train")
    if motion == "moda":
        model = _load_moda(moda_ckpt)  # type: ignore[arg-type]
        pred = model.predict_motion(wave, 16000, speaker=moda_speaker, fps=fps)
        poses, blink = ernerf_motion.moda_motion(
            pred["head"].numpy(), pred["eyes"].numpy(), np.asarray(spk.canonical[train]), spk.blink[train],
            num_frames, smooth,
        )  # fmt: skip
    else:
        poses, blink = ernerf_motion.training_motion(spk.pose, spk.blink, train, num_frames, smooth)

    height, width = target_size(data.get("size"), meta.height, meta.width)
    intrinsics = torch.from_numpy(scale_intrinsics(meta.intrinsics, width / meta.width, height / meta.height))
    background = torch.from_numpy(resize_image(spk.background(), height, width)).float().div(255)
    background = background.permute(2, 0, 1)[None].to(device)
    if torso is not None:
        torso.hparams.val_chunk = chunk
    pixels = pixel_grid(height, width, device)
    bg_rays = background[0].permute(1, 2, 0).reshape(-1, 3)

    def frames() -> Iterator[np.ndarray]:
        from tqdm import tqdm

        for i in tqdm(range(num_frames), desc="ernerf frames", unit="frame", disable=not progress):
            frames_i = i + np.arange(context) - context // 2
            audio = feature_windows(features.values, features.rate_hz, fps, frames_i, window, num_frames)
            batch = {
                "background": background,
                "pose": torch.from_numpy(poses[i])[None].to(device),
                "intrinsics": intrinsics[None].to(device),
                "blink": torch.tensor([float(blink[i])], device=device),
                "audio": torch.from_numpy(audio)[None].to(device),
                "index": torch.zeros(1, dtype=torch.long, device=device),
            }
            with torch.no_grad():
                if torso is not None:
                    image = torso.render_frame(batch)["image"]
                else:
                    color, opacity = render_head_layer(head, batch, pixels, chunk)
                    image = composite(color, opacity, bg_rays).reshape(height, width, 3).permute(2, 0, 1)
            yield (image.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)

    out = Path(out)
    write_video(out, frames(), fps=fps, audio=wave, sample_rate=16000)
    return out


def main(argv: list[str]) -> int:
    """`talkzoo generate --method ernerf ARGS` (argv without the command and --method)."""
    parser = argparse.ArgumentParser(prog="talkzoo generate --method ernerf", description=__doc__.split("\n")[0])
    parser.add_argument("--speaker", required=True, help="the speaker folder the head (and torso) were trained on")
    parser.add_argument("--audio", required=True, help="driving audio: wav, ogg or a video with sound")
    parser.add_argument("--out", required=True, help="output mp4")
    parser.add_argument("--head", default=None, help="head checkpoint (runs/ernerf_head/checkpoints/last.ckpt)")
    parser.add_argument("--torso", default=None, help="torso checkpoint; without it: head over the static background")
    parser.add_argument("--run-dir", default=None, help="folder holding ernerf_head/ (and ernerf_torso/) runs")
    parser.add_argument("--moda", default=None, help="MODA checkpoint: head motion and blink from the audio")
    parser.add_argument(
        "--motion", choices=("training", "moda"), default=None,
        help="pose source (default: moda when --moda is given, else the smoothed training path)",
    )  # fmt: skip
    parser.add_argument("--moda-speaker", type=int, default=0, help="MODA's speaker index (default 0)")
    parser.add_argument("--chunk", type=int, default=16384, help="rays per render chunk (default 16384)")
    parser.add_argument("--smooth", type=float, default=2.0, help="Gaussian σ in frames on the pose path (2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    out = generate_ernerf(
        args.speaker, args.audio, args.out, head_ckpt=args.head, torso_ckpt=args.torso, moda_ckpt=args.moda,
        progress=not args.quiet, run_dir=args.run_dir, motion=args.motion, chunk=args.chunk, smooth=args.smooth,
        moda_speaker=args.moda_speaker,
    )  # fmt: skip
    print(f"wrote {out}")
    return 0

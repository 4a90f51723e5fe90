"""`talkzoo generate --method moda`: audio → MODA motion → FaCo-Net dense mesh → pose + projection → condition
images → portrait renderer → mp4 with the input audio muxed in.

    talkzoo generate --method moda --speaker S --audio A.wav --out O.mp4 --run-dir runs
    talkzoo generate --method moda --speaker S --audio A.mp4 --out O.mp4 --moda M.ckpt --faconet F.ckpt \
        --renderer R.ckpt [--temperature 1.0] [--seed 0] [--chunk 16] [--device cpu|cuda]

Checkpoints come from the flags or from a run directory laid out as `talkzoo demo` and the recipes' defaults write
them (a flag wins over the run directory):

    DIR/moda/checkpoints/last.ckpt       configs/moda.yaml             (--trainer.default_root_dir DIR/moda)
    DIR/faconet/checkpoints/last.ckpt    configs/faconet.yaml          (--trainer.default_root_dir DIR/faconet)
    DIR/renderer/checkpoints/last.ckpt   configs/portrait_renderer.yaml (--trainer.default_root_dir DIR/renderer)

Frames are drawn and rendered `chunk` at a time and streamed into the encoder, so memory stays flat for long audio
(the motion itself is O(T): ≈ 6 KB a frame).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from talkzoo.zoo.errors import UserError

STAGES = ("moda", "faconet", "renderer")


def find_checkpoints(
    run_dir: str | Path | None, moda: str | Path | None, faconet: str | Path | None, renderer: str | Path | None
) -> dict[str, Path]:
    """{stage: checkpoint path} from the explicit paths, else DIR/<stage>/checkpoints/last.ckpt; UserError if any is
    missing."""
    given = {"moda": moda, "faconet": faconet, "renderer": renderer}
    found: dict[str, Path] = {}
    for stage in STAGES:
        path = Path(given[stage]) if given[stage] else None
        if path is None and run_dir is not None:
            path = Path(run_dir) / stage / "checkpoints" / "last.ckpt"
        if path is None:
            raise UserError(f"no {stage} checkpoint: pass --{stage} CKPT or --run-dir DIR (with {stage}/checkpoints/)")
        if not path.is_file():
            raise UserError(f"{path}: {stage} checkpoint not found; train it or pass --{stage} CKPT")
        found[stage] = path
    return found


def _load(stage: str, path: Path, device: str) -> Any:
    from talkzoo.lightning_modules.faconet import FaCoNet
    from talkzoo.lightning_modules.moda import MODA
    from talkzoo.lightning_modules.portrait_renderer import PortraitRenderer

    cls = {"moda": MODA, "faconet": FaCoNet, "renderer": PortraitRenderer}[stage]
    try:
        model = cls.load_from_checkpoint(str(path), map_location=device)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UserError(
            f"{path}: not a {cls.__name__} checkpoint ({type(exc).__name__}); pass the right --{stage}"
        ) from exc
    return model.eval()


def _speaker_index(names: list[str], speaker: str, stage: str) -> int:
    """Index of `speaker` among a checkpoint's speakers (a single-speaker checkpoint serves any speaker name)."""
    if speaker in names:
        return names.index(speaker)
    if len(names) == 1:
        return 0
    raise UserError(f"the {stage} checkpoint has speakers {names}, not {speaker!r}; pass a checkpoint trained on it")


def motion_to_mesh(
    moda: Any, faconet: Any, wave: np.ndarray, speaker: str, temperature: float | None, seed: int | None
) -> dict[str, np.ndarray]:
    """Audio (16 kHz mono) → {"mesh": [T, 478, 3] canonical, "shoulders": [T, 18, 3] canonical, "pose": [T, 4, 4],
    "fps": scalar array}; T = round(duration · fps) at the speaker's fps (stored in the MODA checkpoint)."""
    from talkzoo.zoo.head_motion import head_motion_to_pose

    moda_index = _speaker_index([s.speaker for s in moda.speaker_stats], speaker, "MODA")
    faco_index = _speaker_index([s.speaker for s in faconet.speaker_stats], speaker, "FaCo-Net")
    motion = moda.predict_motion(wave, 16000, speaker=moda_index, temperature=temperature, seed=seed)
    mesh = faconet.compose(motion["lips"], motion["eyes"], speaker=faco_index)
    return {
        "mesh": mesh.numpy(),
        "shoulders": motion["torso"].numpy(),
        "pose": head_motion_to_pose(motion["head"].numpy()),
        "fps": np.asarray(float(moda.speaker_cameras[moda_index].get("fps", 25.0))),
    }


def render_frames(renderer: Any, geometry: dict[str, np.ndarray], chunk: int, progress: bool) -> Iterator[np.ndarray]:
    """Condition images → rendered uint8 [H, W, 3] frames, `chunk` at a time (tqdm bar when `progress`)."""
    from tqdm import tqdm

    from talkzoo.zoo.portrait import condition_image

    info = renderer.speaker_info
    camera, height, width, thickness = renderer.camera, info["height"], info["width"], info["thickness"]
    total = geometry["mesh"].shape[0]
    with tqdm(total=total, desc="rendering", unit="frame", disable=not progress) as bar:
        for start in range(0, total, chunk):
            stop = min(total, start + chunk)
            conditions = np.stack(
                [
                    condition_image(
                        geometry["mesh"][i],
                        geometry["shoulders"][i],
                        geometry["pose"][i],
                        camera,
                        height,
                        width,
                        thickness,
                    )
                    for i in range(start, stop)
                ]
            )
            yield from renderer.render(conditions, np.arange(start, stop))
            bar.update(stop - start)


def generate_moda(
    speaker: str | Path,
    audio_path: str | Path,
    out: str | Path,
    moda: str | Path | None = None,
    faconet: str | Path | None = None,
    renderer: str | Path | None = None,
    run_dir: str | Path | None = None,
    temperature: float | None = None,
    seed: int | None = None,
    chunk: int = 16,
    device: str | None = None,
    progress: bool = True,
) -> Path:
    """Render `audio_path` (wav / mp3 / ogg / mp4 …) as speaker `speaker` into the mp4 `out`; returns `out`.

    The video has T = round(duration · fps) frames at the speaker's fps and the input audio (16 kHz mono AAC)."""
    import torch

    from talkzoo.datamodules.media import read_audio, write_video
    from talkzoo.datamodules.speaker import Speaker

    if chunk < 1:
        raise UserError(f"--chunk must be ≥ 1, got {chunk}")
    audio_path = Path(audio_path)
    if not audio_path.is_file():
        raise UserError(f"{audio_path}: audio file not found; pass an existing --audio file")
    name = Speaker(speaker).name
    paths = find_checkpoints(run_dir, moda, faconet, renderer)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    wave = read_audio(audio_path, 16000)
    if len(wave) < 160:
        raise UserError(f"{audio_path}: the audio is shorter than 10 ms; pass a longer --audio")
    models = {stage: _load(stage, path, device) for stage, path in paths.items()}
    geometry = motion_to_mesh(models["moda"], models["faconet"], wave, name, temperature, seed)
    frames = render_frames(models["renderer"], geometry, chunk, progress)
    return write_video(out, frames, float(geometry["fps"]), audio=wave, sample_rate=16000)


def main(argv: Sequence[str]) -> int:
    """`talkzoo generate --method moda ARGS` (argv excludes the command and --method)."""
    parser = argparse.ArgumentParser(prog="talkzoo generate --method moda", description=__doc__.split("\n\n")[0])
    parser.add_argument("--speaker", required=True, help="the speaker folder (the renderer's speaker)")
    parser.add_argument("--audio", required=True, help="driving audio: wav, mp3, ogg, or a video with sound")
    parser.add_argument("--out", required=True, help="output mp4")
    parser.add_argument("--moda", help="MODA checkpoint (default: RUN_DIR/moda/checkpoints/last.ckpt)")
    parser.add_argument("--faconet", help="FaCo-Net checkpoint (default: RUN_DIR/faconet/checkpoints/last.ckpt)")
    parser.add_argument("--renderer", help="renderer checkpoint (default: RUN_DIR/renderer/checkpoints/last.ckpt)")
    parser.add_argument("--run-dir", help="folder with moda/, faconet/, renderer/ run folders")
    parser.add_argument("--temperature", type=float, help="ProbAttn sampling temperature (default: the MODA run's)")
    parser.add_argument("--seed", type=int, help="sampling seed (default: the MODA run's)")
    parser.add_argument("--chunk", type=int, default=16, help="frames rendered per batch (memory ∝ chunk)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        if exc.code == 0:
            return 0
        raise UserError("bad generate arguments; see `talkzoo generate --method moda --help`") from None
    out = generate_moda(
        args.speaker,
        args.audio,
        args.out,
        moda=args.moda,
        faconet=args.faconet,
        renderer=args.renderer,
        run_dir=args.run_dir,
        temperature=args.temperature,
        seed=args.seed,
        chunk=args.chunk,
        device=args.device,
        progress=not args.no_progress,
    )
    print(f"wrote {out}")
    return 0

"""`ValidationMedia`: after validation, log what the module shows of its first val batch (rank 0 only).

The module must be a `talkzoo.lightning_modules.media.ValidationMediaSource` (every talkzoo LightningModule is):
`validation_media() -> MotionMedia | FramesMedia | None` (the shapes are documented there). A module without it is
reported once and skipped.

- "motion" (MODA, FaCo-Net) → plots: mouth opening predicted vs true over time (+ eyes, head when present); lip
  landmark trajectories.
- "frames" (ER-NeRF, PortraitRenderer) → a grid, one row per frame: target | render | depth | opacity (| condition);
  an mp4 of target | render.

Destinations: WandbLogger (images, video: works offline, no key needed), TensorBoardLogger (images, figures),
and, with log_files, PNG / mp4 files under <log_dir>/media/ (W&B runs: <save_dir>/media/<run id>/).
Add it to a recipe without replacing the recipe's callbacks, on the command line or by name in a stacked config
(docs/training.md, "Callbacks"):
    talkzoo fit --config moda --trainer.callbacks+=talkzoo.callbacks.media_logger.ValidationMedia
    callbacks: {media: {class_path: talkzoo.callbacks.media_logger.ValidationMedia}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities import rank_zero_warn

from talkzoo.datamodules.media import write_video
from talkzoo.lightning_modules.media import FramesMedia, Media, MotionMedia, ValidationMediaSource
from talkzoo.zoo.face_indices import LIP_INDICES, LOWER_INNER_LIP_MID, UPPER_INNER_LIP_MID

_UPPER, _LOWER = LIP_INDICES.index(UPPER_INNER_LIP_MID), LIP_INDICES.index(LOWER_INNER_LIP_MID)
_HEAD_NAMES = ("rot x", "rot y", "rot z", "trans x", "trans y", "trans z", "scale")


class ValidationMedia(Callback):
    """Log the module's `validation_media()` every n-th validation run, from global rank 0 only.

    every_n_epochs: log every n-th validation run (the sanity check never counts). max_frames: frames per grid
    and video. log_files: also write PNG / mp4 files under <log_dir>/media/. tile_size: longest side of one
    grid tile, pixels (larger frames are shrunk).
    """

    def __init__(self, every_n_epochs: int = 1, max_frames: int = 16, log_files: bool = True, tile_size: int = 256):
        super().__init__()
        if every_n_epochs < 1 or max_frames < 1 or tile_size < 8:
            raise ValueError("every_n_epochs ≥ 1, max_frames ≥ 1 and tile_size ≥ 8 are required")
        self.every_n_epochs = every_n_epochs
        self.max_frames = max_frames
        self.log_files = log_files
        self.tile_size = tile_size
        self._runs = 0
        self._log_dir: Path | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        # trainer.log_dir broadcasts under DDP: read it here, where every rank runs.
        self._log_dir = Path(trainer.log_dir or trainer.default_root_dir)
        if not isinstance(pl_module, ValidationMediaSource):
            rank_zero_warn(f"ValidationMedia: {type(pl_module).__name__} has no validation_media(); nothing is logged")

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self._runs += 1
        if (self._runs - 1) % self.every_n_epochs or not trainer.is_global_zero:
            return
        media: Media | None = pl_module.validation_media() if isinstance(pl_module, ValidationMediaSource) else None
        if not media:
            return
        kind = media.get("kind")
        if kind == "frames":
            self._log_frames(trainer, media)
        elif kind == "motion":
            self._log_motion(trainer, media)
        else:
            raise ValueError(f"validation_media() returned kind {kind!r}; expected 'frames' or 'motion'")

    # ---- destinations --------------------------------------------------------------------------------------
    def media_dir(self, trainer: Trainer) -> Path:
        """<log_dir>/media, with the W&B run id appended for W&B runs (their log_dir is shared by all runs)."""
        base = (self._log_dir or Path(trainer.default_root_dir)) / "media"
        wandb = next((lg for lg in trainer.loggers if isinstance(lg, WandbLogger)), None)
        if wandb is not None and not any(isinstance(lg, TensorBoardLogger) for lg in trainer.loggers):
            base = base / str(wandb.version)
        base.mkdir(parents=True, exist_ok=True)
        return base

    def _prefix(self, trainer: Trainer) -> str:
        return f"epoch{trainer.current_epoch:03d}_step{trainer.global_step:06d}"

    def _log_images(self, trainer: Trainer, images: dict[str, np.ndarray], tensorboard: bool = True) -> None:
        """images: name → uint8 [H, W, 3], to W&B, TensorBoard (unless tensorboard=False) and files."""
        step = trainer.global_step
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                for name, image in images.items():
                    logger.log_image(f"val_media/{name}", [image], step=step)
            elif isinstance(logger, TensorBoardLogger) and tensorboard:
                for name, image in images.items():
                    logger.experiment.add_image(f"val_media/{name}", image, step, dataformats="HWC")
        if self.log_files:
            folder, prefix = self.media_dir(trainer), self._prefix(trainer)
            for name, image in images.items():
                cv2.imwrite(str(folder / f"{prefix}_{name}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))

    def _log_frames(self, trainer: Trainer, media: FramesMedia) -> None:
        grid = frame_grid(media, self.max_frames, self.tile_size)
        self._log_images(trainer, {"frames": grid})
        pairs = side_by_side(media, self.max_frames, self.tile_size)
        wandb = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        if not (self.log_files or wandb):
            return
        path = self.media_dir(trainer) / f"{self._prefix(trainer)}_target_render.mp4"
        write_video(path, pairs, float(media.get("fps", 25.0)))
        for logger in wandb:
            logger.log_video("val_media/video", [str(path)], step=trainer.global_step, format=["mp4"])

    def _log_motion(self, trainer: Trainer, media: MotionMedia) -> None:
        import matplotlib  # lazy: only motion media draw plots, and importing pyplot costs about a second

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        figures = {"mouth": mouth_figure(media), "lips": lips_figure(media)}
        images = {name: figure_to_array(fig) for name, fig in figures.items()}
        step = trainer.global_step
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                for name, fig in figures.items():
                    logger.experiment.add_figure(f"val_media/{name}", fig, step, close=False)
        for fig in figures.values():
            plt.close(fig)
        self._log_images(trainer, images, tensorboard=False)  # TensorBoard has them as figures


# ---- pictures ---------------------------------------------------------------------------------------------
def _fit(image: np.ndarray, tile: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = tile / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _colour(values: np.ndarray, colormap: int) -> np.ndarray:
    """float [H, W] → uint8 RGB [H, W, 3], normalised to its own 1st–99th percentile."""
    finite = values[np.isfinite(values)]
    lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
    scaled = np.clip((np.nan_to_num(values, nan=lo) - lo) / max(hi - lo, 1e-8), 0, 1)
    return cv2.cvtColor(cv2.applyColorMap((scaled * 255).astype(np.uint8), colormap), cv2.COLOR_BGR2RGB)


def frame_grid(media: dict[str, Any], max_frames: int, tile: int) -> np.ndarray:
    """uint8 [rows·h, cols·w, 3]: one row per frame, columns target | render | depth | opacity | condition."""
    n = min(max_frames, len(media["render"]))
    rows = []
    for i in range(n):
        cells = [media["target"][i], media["render"][i]]
        if media.get("depth") is not None:
            cells.append(_colour(np.asarray(media["depth"][i], np.float32), cv2.COLORMAP_VIRIDIS))
        if media.get("opacity") is not None:
            alpha = (np.clip(np.asarray(media["opacity"][i], np.float32), 0, 1) * 255).astype(np.uint8)
            cells.append(np.repeat(alpha[..., None], 3, axis=2))
        if media.get("condition") is not None:
            cells.append(media["condition"][i])
        rows.append(np.concatenate([_fit(np.asarray(c, np.uint8), tile) for c in cells], axis=1))
    return np.concatenate(rows, axis=0)


def side_by_side(media: dict[str, Any], max_frames: int, tile: int) -> list[np.ndarray]:
    """[N] uint8 [h, 2w, 3] frames: target | render."""
    n = min(max_frames, len(media["render"]))
    return [np.concatenate([_fit(media["target"][i], tile), _fit(media["render"][i], tile)], axis=1) for i in range(n)]


def figure_to_array(fig: Any) -> np.ndarray:
    """A matplotlib figure → uint8 RGB [H, W, 3]."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def mouth_figure(media: MotionMedia) -> Any:
    """Mouth opening predicted vs true over time (seconds), plus eye opening and head pose when present."""
    import matplotlib.pyplot as plt  # lazy, see _log_motion

    fps = float(media.get("fps", 25.0))
    panels = ["mouth"] + [k for k in ("eyes", "head") if media.get(f"{k}_pred") is not None]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.6 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        pred, true = np.asarray(media[f"{panel}_pred"]), np.asarray(media[f"{panel}_true"])
        t = np.arange(len(pred)) / fps
        if panel == "head":
            for j in range(min(3, pred.shape[1])):  # the three rotations
                ax.plot(t, true[:, j], color=f"C{j}", label=f"{_HEAD_NAMES[j]} true")
                ax.plot(t, pred[:, j], color=f"C{j}", linestyle="--", label=f"{_HEAD_NAMES[j]} pred")
        else:
            ax.plot(t, true, color="k", label="true")
            ax.plot(t, pred, color="C3", label="pred")
        ax.set_ylabel({"mouth": "mouth opening (px)", "eyes": "eye opening", "head": "head rotation"}[panel])
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def lips_figure(media: MotionMedia) -> Any:
    """Lip landmark trajectories: vertical position of the inner-lip middles over time, and the 40 lip points
    (pred vs true) at the frame of widest true opening."""
    import matplotlib.pyplot as plt  # lazy, see _log_motion

    fps = float(media.get("fps", 25.0))
    pred, true = np.asarray(media["lips_pred"]), np.asarray(media["lips_true"])
    t = np.arange(len(pred)) / fps
    fig, (ax_t, ax_s) = plt.subplots(1, 2, figsize=(11, 3.6), gridspec_kw={"width_ratios": [2, 1]})
    for index, name, colour in ((_UPPER, "upper inner lip", "C0"), (_LOWER, "lower inner lip", "C1")):
        ax_t.plot(t, true[:, index, 1], color=colour, label=f"{name} true")
        ax_t.plot(t, pred[:, index, 1], color=colour, linestyle="--", label=f"{name} pred")
    ax_t.invert_yaxis()  # image y points down
    ax_t.set_xlabel("time (s)")
    ax_t.set_ylabel("y (px)")
    ax_t.legend(fontsize=7)
    k = int(np.argmax(np.asarray(media["mouth_true"])))
    ax_s.scatter(true[k, :, 0], true[k, :, 1], s=10, color="k", label="true")
    ax_s.scatter(pred[k, :, 0], pred[k, :, 1], s=10, color="C3", label="pred")
    ax_s.invert_yaxis()
    ax_s.set_aspect("equal", adjustable="datalim")
    ax_s.set_title(f"lips at {k / fps:.2f} s", fontsize=9)
    ax_s.legend(fontsize=7)
    fig.tight_layout()
    return fig

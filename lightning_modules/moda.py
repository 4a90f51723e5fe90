"""MODA (docs/moda.md): audio (+ subject code) → lips 40×3, eyes 60×3, head 7, torso 18×3 through an injected
temporal body — `zoo.moda.DualAttention` (configs/moda.yaml) or `zoo.moda.RecurrentBody`, the LSTM baseline
(configs/moda_lstm.yaml).

Batch: `talkzoo.datamodules.batches.MotionBatch` with `audio` [B, T, D] (or `waveform` [B, L] for a waveform
encoder), `lips`, `eyes`, `head`, `torso` (normalised per speaker), `subject`, `speaker_index`, `mask`.

The speakers' SpeakerInfo (statistics from the train split, camera, fps) is stored in the checkpoint
(talkzoo.lightning_modules.speaker_module), so `predict_motion` de-normalises without the data. Metrics per
validation epoch, on the 40 lip points projected to pixels with the ground-truth pose and the speaker's intrinsics:
`val/lmd`, `val/lmd_v`, `val/ma` (inner-mouth IoU), `val/mouth_corr` (Pearson of the mouth opening),
`val/lmd_mean_baseline` (the train-mean lips), and `val/div_eyes`, `val/div_head`, `val/diversity` (std over N
samples of the same audio).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from talkzoo.datamodules.alignment import interpolate_features
from talkzoo.datamodules.batches import MotionBatch
from talkzoo.datamodules.speaker_info import SpeakerInfo
from talkzoo.lightning_modules.media import MotionMedia
from talkzoo.lightning_modules.motion_speaker_module import MotionSpeakerModule, masked_mean
from talkzoo.lightning_modules.protocols import MotionAudioEncoder, MotionBody, require
from talkzoo.lightning_modules.step_logging import log_step_scalars
from talkzoo.zoo.audio import extract, to_mono_16k
from talkzoo.zoo.errors import UserError
from talkzoo.zoo.head_motion import head_motion_to_pose
from talkzoo.zoo.metrics import diversity, landmark_distance, mouth_area_iou, mouth_opening, project_points
from talkzoo.zoo.metrics.image_mouth import pearson_from_sums
from talkzoo.zoo.moda import PART_SHAPES, BodyOutput, MotionTails, SubjectEncoder, smooth_time

PARTS = tuple(PART_SHAPES)
DEFAULT_PART_WEIGHTS = {"lips": 5.0, "eyes": 1.0, "head": 1.0, "torso": 1.0}
DEFAULT_VELOCITY_WEIGHTS = {"lips": 5.0, "eyes": 1.0, "head": 1.0, "torso": 0.5}
DEFAULT_SMOOTHING = {"lips": 0.0, "eyes": 0.0, "head": 1.0, "torso": 1.0}
_SUMS = ("lmd", "lmd_frames", "lmd_v", "lmd_v_pairs", "ma", "base", "ox", "oy", "oxx", "oyy", "oxy")


class MODA(MotionSpeakerModule):
    """The A→R stage of MODA with an injected audio encoder and temporal body.

    Args:
        audio_encoder: per-frame audio → [B, T, hidden], a `talkzoo.lightning_modules.protocols.MotionAudioEncoder`
            (`talkzoo.zoo.moda.MelConvEncoder` or `Wav2VecEncoder`).
        body: temporal body, (x_a, x_s) → BodyOutput, a `protocols.MotionBody` (`talkzoo.zoo.moda.DualAttention` or
            `RecurrentBody`). Both networks are rebuilt from the run's config.yaml, not stored as hyper-parameters.
        hidden: d (must match the encoder's and the body's). lips_hidden, tail_hidden: tail widths.
        subject_layers: subject-encoder layers. loss: "mse" or "l1" per part.
        part_weights, velocity_weights: per part (lips weighted up, as in the code: 5, 1, 1, 1 / 5, 1, 1, 0.5).
        kl_weight: ProbAttn KL weight (the paper's VAE; the public code dropped it). kl_warmup_steps: linear ramp.
        lr, betas, weight_decay: AdamW. warmup_steps: linear LR warm-up, then cosine to 0 over the run.
        diversity_samples: samples of the first val batch for the diversity score.
        feature: audio feature name for `predict_motion` with a feature encoder ("mel").
        predict_window, predict_stride: sliding window (frames) for `predict_motion`. predict_batch: windows per pass.
        smoothing: per-part Gaussian sigma (frames) applied after prediction. temperature: ProbAttn sampling
        temperature in validation and prediction. seed: seeds sampling in validation and prediction.
    """

    label = "MODA"

    def __init__(
        self,
        audio_encoder: nn.Module,
        body: nn.Module,
        hidden: int = 128,
        lips_hidden: int = 512,
        tail_hidden: int = 256,
        subject_layers: int = 3,
        loss: str = "mse",
        part_weights: dict[str, float] | None = None,
        velocity_weights: dict[str, float] | None = None,
        kl_weight: float = 1e-3,
        kl_warmup_steps: int = 0,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.01,
        warmup_steps: int = 0,
        diversity_samples: int = 4,
        feature: str = "mel",
        predict_window: int = 600,
        predict_stride: int = 450,
        predict_batch: int = 4,
        smoothing: dict[str, float] | None = None,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["audio_encoder", "body"])
        if loss not in ("mse", "l1"):
            raise ValueError(f"loss must be 'mse' or 'l1', got {loss!r}")
        require(audio_encoder, MotionAudioEncoder, "MODA audio_encoder")
        require(body, MotionBody, "MODA body")
        for name, size in (("audio_encoder.out_dim", audio_encoder.out_dim), ("body.in_dim", body.in_dim)):
            if size != hidden:
                raise ValueError(f"{name} = {size} but MODA hidden = {hidden}: set both to the same d")
        if predict_stride <= 0 or predict_stride > predict_window:
            raise ValueError(f"predict_stride must be in [1, predict_window], got {predict_stride}")
        self.audio_encoder = audio_encoder
        self.body = body
        self.subject_encoder = SubjectEncoder(hidden=hidden, layers=subject_layers)
        self.tails = MotionTails(body.out_dim, lips_hidden, tail_hidden)
        self.part_weights = {**DEFAULT_PART_WEIGHTS, **(part_weights or {})}
        self.velocity_weights = {**DEFAULT_VELOCITY_WEIGHTS, **(velocity_weights or {})}
        self.smoothing = {**DEFAULT_SMOOTHING, **(smoothing or {})}
        self._sums: dict[str, float] = {}
        self._diversity: dict[str, float] = {}
        self._media: MotionMedia | None = None

    # ---- data-dependent state (SpeakerModule: stored in the checkpoint) --------------------------------------
    @property
    def input_kind(self) -> str:
        """ "features" (batch `audio`) or "waveform" (batch `waveform`), from the audio encoder."""
        return self.audio_encoder.input_kind

    def check_speaker(self, info: SpeakerInfo) -> None:
        """Each speaker needs motion statistics and the audio the encoder reads."""
        super().check_speaker(info)
        if info.audio_source != self.input_kind:
            raise UserError(
                f"the audio encoder reads {self.input_kind} but the data gives audio_source={info.audio_source!r}"
                f": set data.init_args.audio_source: {self.input_kind}"
            )

    # ---- model ------------------------------------------------------------------------------------------------
    def forward(
        self,
        audio: torch.Tensor,
        subject: torch.Tensor,
        num_frames: int | None = None,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        motion: torch.Tensor | None = None,
    ) -> tuple[dict[str, torch.Tensor], BodyOutput]:
        """audio [B, T, D] features (or waveform [B, L] with num_frames = T), subject [B, 478, 3] →
        ({part: [B, T, *shape]} normalised, BodyOutput). motion: target motion [B, T, 241] for a conditional-VAE
        body in training (see `motion_target`), else None (sample the prior)."""
        x_a = self.audio_encoder(audio, num_frames)
        x_s = self.subject_encoder(subject)
        out = self.body(x_a, x_s, temperature=temperature, generator=generator, motion=motion)
        return self.tails(out.features), out

    def motion_target(self, batch: MotionBatch) -> torch.Tensor | None:
        """Eyes, head, torso of the batch flattened per frame [B, T, 241] when the body's posterior uses them."""
        if self.body.motion_dim <= 0:
            return None
        lead = batch["head"].shape[:2]
        return torch.cat([batch[p].reshape(*lead, -1) for p in ("eyes", "head", "torso")], dim=-1)

    def _audio(self, batch: MotionBatch) -> tuple[torch.Tensor, int]:
        frames = batch["mask"].shape[1]
        return (batch["waveform"] if self.input_kind == "waveform" else batch["audio"]), frames

    def _generator(self, offset: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(int(self.hparams.seed) * 1000003 + offset)

    # ---- losses -------------------------------------------------------------------------------------------
    def losses(self, pred: dict[str, torch.Tensor], body: BodyOutput, batch: MotionBatch) -> dict[str, torch.Tensor]:
        """Weighted reconstruction + velocity per part, KL; returns every term and `loss` (the weighted total)."""
        mask = batch["mask"].float()
        pairs = mask[:, 1:] * mask[:, :-1]
        kl_scale = 1.0
        if self.hparams.kl_warmup_steps > 0:
            kl_scale = min(1.0, (self.global_step + 1) / self.hparams.kl_warmup_steps)
        terms: dict[str, torch.Tensor] = {}
        total = pred["lips"].new_zeros(())
        for part in PARTS:
            error = pred[part] - batch[part]
            per_frame = (error.square() if self.hparams.loss == "mse" else error.abs()).flatten(2).mean(-1)
            rec = masked_mean(per_frame, mask)
            vel = masked_mean((error[:, 1:] - error[:, :-1]).abs().flatten(2).mean(-1), pairs)
            terms[f"{part}"], terms[f"{part}_vel"] = rec, vel
            total = total + self.part_weights[part] * rec + self.velocity_weights[part] * vel
        if body.kl is not None:
            terms["kl"] = masked_mean(body.kl, mask)
            total = total + self.hparams.kl_weight * kl_scale * terms["kl"]
        terms["loss"] = total
        return terms

    def training_step(self, batch: MotionBatch, batch_idx: int) -> torch.Tensor:
        audio, frames = self._audio(batch)
        pred, body = self(audio, batch["subject"], frames, motion=self.motion_target(batch))
        terms = self.losses(pred, body, batch)
        size = batch["mask"].shape[0]
        logs = {f"train/{key}": value for key, value in terms.items()}  # terms["loss"]: train/loss
        log_step_scalars(self, logs, batch_size=size, prog_bar_keys=("train/loss",))
        return terms["loss"]

    # ---- validation metrics ---------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._sums = dict.fromkeys(_SUMS, 0.0)
        self._diversity = {}
        self._media = None

    def validation_step(self, batch: MotionBatch, batch_idx: int) -> None:
        audio, frames = self._audio(batch)
        temperature = float(self.hparams.temperature)
        pred, body = self(audio, batch["subject"], frames, temperature, self._generator(batch_idx))
        terms = self.losses(pred, body, batch)
        size = batch["mask"].shape[0]
        self.log("val/loss", terms["loss"], prog_bar=True, sync_dist=True, batch_size=size)
        self.log("val/lips_mse", terms["lips"], sync_dist=True, batch_size=size)
        if self.speaker_stats:
            self._accumulate_pixels(pred["lips"], pred["head"], batch)
        if batch_idx == 0 and self.hparams.diversity_samples >= 2:
            samples = [pred] + [
                self(audio, batch["subject"], frames, temperature, self._generator(10_000 + i))[0]
                for i in range(self.hparams.diversity_samples - 1)
            ]
            mask = batch["mask"]
            for part in ("eyes", "head", "lips"):
                stacked = torch.stack([s[part][mask] for s in samples])  # [N, frames, ...]
                self._diversity[part] = diversity(stacked)

    def _pixels(self, lips: torch.Tensor, pose: torch.Tensor, speaker: int) -> torch.Tensor:
        """Normalised lips [T, 40, 3] → pixels [T, 40, 2] with pose [T, 4, 4] and the speaker's camera."""
        raw = self.speaker_stats[speaker].denormalise("lips", lips.float())
        camera = self.speakers[speaker].camera
        return project_points(raw, pose, camera.focal, camera.cx, camera.cy)

    def _accumulate_pixels(self, lips: torch.Tensor, head_pred: torch.Tensor, batch: MotionBatch) -> None:
        sums = self._sums
        for b in range(lips.shape[0]):
            valid = batch["mask"][b]
            if not bool(valid.any()):
                continue
            speaker = int(batch["speaker_index"][b])
            head = self.speaker_stats[speaker].denormalise("head", batch["head"][b][valid].float().cpu().numpy())
            pose = torch.from_numpy(head_motion_to_pose(head)).to(lips.device)
            pred = self._pixels(lips[b][valid], pose, speaker)
            truth = self._pixels(batch["lips"][b][valid], pose, speaker)
            if self._media is None:
                self._media = self._media_clip(pred, truth, head, head_pred[b][valid], speaker)
            base = self._pixels(torch.zeros_like(batch["lips"][b][valid]), pose, speaker)
            sums["lmd"] += float(landmark_distance(pred, truth).sum())
            sums["base"] += float(landmark_distance(base, truth).sum())
            sums["lmd_frames"] += float(pred.shape[0])
            if pred.shape[0] > 1:
                vel_p, vel_t = pred[1:] - pred[:-1], truth[1:] - truth[:-1]
                sums["lmd_v"] += float(landmark_distance(vel_p, vel_t).sum())
                sums["lmd_v_pairs"] += float(pred.shape[0] - 1)
            sums["ma"] += float(mouth_area_iou(pred, truth).sum())
            op, ot = mouth_opening(pred).double(), mouth_opening(truth).double()
            sums["ox"] += float(op.sum())
            sums["oy"] += float(ot.sum())
            sums["oxx"] += float(op.square().sum())
            sums["oyy"] += float(ot.square().sum())
            sums["oxy"] += float((op * ot).sum())

    def _media_clip(
        self, pred: torch.Tensor, truth: torch.Tensor, head: np.ndarray, head_pred: torch.Tensor, speaker: int
    ) -> MotionMedia:
        """The first val clip for `validation_media` (at most 250 frames): lips in pixels, mouth opening, head."""
        n = min(250, pred.shape[0])
        return {
            "kind": "motion",
            "fps": float(self.speakers[speaker].fps),
            "lips_pred": pred[:n].float().cpu().numpy(),
            "lips_true": truth[:n].float().cpu().numpy(),
            "mouth_pred": mouth_opening(pred[:n]).float().cpu().numpy(),
            "mouth_true": mouth_opening(truth[:n]).float().cpu().numpy(),
            "head_true": head[:n].astype(np.float32),
            "head_pred": self.speaker_stats[speaker].denormalise("head", head_pred[:n].float().cpu().numpy()),
        }

    def validation_media(self) -> MotionMedia | None:
        """The first val clip (talkzoo.lightning_modules.media, kind "motion"), None before validation."""
        return self._media

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        values = torch.tensor([self._sums.get(k, 0.0) for k in _SUMS], dtype=torch.float64, device=self.device)
        values = self.trainer.strategy.reduce(values, reduce_op="sum")
        s = dict(zip(_SUMS, values.tolist(), strict=True))
        n = s["lmd_frames"]
        if n > 0:
            self.log("val/lmd", s["lmd"] / n)
            self.log("val/lmd_mean_baseline", s["base"] / n)
            self.log("val/ma", s["ma"] / n)
            self.log("val/lmd_v", s["lmd_v"] / max(s["lmd_v_pairs"], 1.0))
            self.log("val/mouth_corr", pearson_from_sums(n, s["ox"], s["oy"], s["oxx"], s["oyy"], s["oxy"]))
        if self._diversity:
            for part, value in self._diversity.items():
                self.log(f"val/div_{part}", value, sync_dist=True)
            self.log("val/diversity", 0.5 * (self._diversity["eyes"] + self._diversity["head"]), sync_dist=True)

    # ---- optimisation ---------------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=hp.lr, betas=tuple(hp.betas), weight_decay=hp.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(int(hp.warmup_steps), total - 1)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return 0.5 * (1.0 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---- inference ------------------------------------------------------------------------------------------
    def predict_step(self, batch: MotionBatch, batch_idx: int) -> dict[str, torch.Tensor]:
        """A MotionDataModule batch → normalised {part: [B, T, *shape]} (sampled with temperature and seed)."""
        audio, frames = self._audio(batch)
        gen = self._generator(batch_idx)
        pred, _ = self(audio, batch["subject"], frames, float(self.hparams.temperature), gen)
        return pred

    @torch.inference_mode()
    def predict_motion(
        self,
        wave: np.ndarray,
        sample_rate: int = 16000,
        speaker: int = 0,
        fps: float | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        features: np.ndarray | None = None,
    ) -> dict[str, torch.Tensor]:
        """Motion for audio of any length: sliding windows (predict_window / predict_stride), overlap averaging,
        per-part smoothing, de-normalisation with the speaker's stored statistics.

        wave: mono audio [N] at `sample_rate`. features: optional precomputed per-frame features [T, D] (skips the
        extractor). Returns {part: [T, *shape]} in the speaker's canonical units (head: rotvec, t, s) on the CPU,
        T = round(duration · fps). Memory: O(T) for the outputs plus one batch of windows.
        """
        if not self.speakers:
            raise RuntimeError("MODA has no speaker statistics: train it or load a checkpoint saved by training")
        hp = self.hparams
        stats = self.speaker_stats[speaker]
        fps = float(fps or self.speakers[speaker].fps)
        temperature = float(hp.temperature if temperature is None else temperature)
        generator = torch.Generator(device=self.device).manual_seed(int(hp.seed if seed is None else seed))
        wave16 = to_mono_16k(np.asarray(wave), sample_rate)
        num_frames = max(1, int(round(len(wave16) / 16000 * fps)))
        if self.input_kind == "features" and features is None:
            feats = extract(hp.feature, wave16, 16000)
            features = interpolate_features(feats.values, feats.rate_hz, fps, np.arange(num_frames))
        window = min(int(hp.predict_window), num_frames)
        starts = list(range(0, num_frames - window + 1, int(hp.predict_stride)))
        if starts[-1] + window < num_frames:
            starts.append(num_frames - window)
        sums = {p: torch.zeros(num_frames, *PART_SHAPES[p]) for p in PARTS}
        counts = torch.zeros(num_frames)
        subject = torch.from_numpy(stats.subject_code()).to(self.device)
        was_training = self.training
        self.eval()
        try:
            for first in range(0, len(starts), int(hp.predict_batch)):
                chunk = starts[first : first + int(hp.predict_batch)]
                audio = torch.stack([self._window_audio(wave16, features, s, window, fps) for s in chunk])
                pred, _ = self(
                    audio.to(self.device), subject.expand(len(chunk), -1, -1), window, temperature, generator
                )
                for i, s in enumerate(chunk):
                    for p in PARTS:
                        sums[p][s : s + window] += pred[p][i].float().cpu()
                    counts[s : s + window] += 1
        finally:
            self.train(was_training)
        out: dict[str, torch.Tensor] = {}
        for p in PARTS:
            mean = sums[p] / counts.view(-1, *([1] * len(PART_SHAPES[p])))
            out[p] = stats.denormalise(p, smooth_time(mean, float(self.smoothing.get(p, 0.0))))
        return out

    def _window_audio(
        self, wave16: np.ndarray, features: np.ndarray | None, start: int, window: int, fps: float
    ) -> torch.Tensor:
        """Encoder input of frames [start, start + window): features [window, D] or samples [round(window·640)]."""
        if self.input_kind == "features":
            assert features is not None
            return torch.from_numpy(np.ascontiguousarray(features[start : start + window], dtype=np.float32))
        spf = 16000 / fps
        begin, length = int(round(start * spf)), int(round(window * spf))
        piece = np.zeros(length, dtype=np.float32)
        chunk = wave16[begin : begin + length]
        piece[: len(chunk)] = chunk
        return torch.from_numpy(piece)

"""`talkzoo evaluate PRED.mp4 SPEAKER`: score a rendered video against a speaker's split (docs/evaluation.md).

    talkzoo evaluate out.mp4 outputs/synth/speaker --split val --out metrics.json [--max-frames N]
    result = evaluate_video("out.mp4", "outputs/synth/speaker", split="val")     # the same dict, from python

Alignment: prediction frame k ↔ split frame k (the split's first frame is the speaker's `val_start` for "val");
the comparison covers min(prediction frames, split frames, max_frames) frames. A prediction of another size is
resized to the speaker's size (reported). When the prediction has an audio track, its offset against the speaker's
recording is estimated by waveform cross-correlation and reported (it never re-aligns the frames).

Metrics: PSNR (mean over frames of −10·log10 MSE on [0, 1]), SSIM (torchmetrics), LPIPS (AlexNet; "unavailable:
<reason>" without its weights), LMD / LMD-v / mouth-area IoU on the 40 MediaPipe lip points detected in both
videos (pixels), the mouth-opening ρ (Pearson of the two videos' inner-lip gaps, each smoothed over three frames:
`talkzoo.zoo.metrics.lip_tracker.TRACKER_SMOOTHING`), NIQE of prediction and ground truth, and the weight-free
sync score (talkzoo.zoo.metrics.sync): the lag
between the prediction's mouth opening and the speech energy of its own audio track (of the speaker's split
audio when it has none). Sync offset k > 0: the video shows each sound k frames after it is heard.
Frames stream one at a time; only per-frame scalars and lip points are kept.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from talkzoo.zoo.errors import UserError
from talkzoo.zoo.metrics.lip_tracker import LipTracker, mouth_opening_series, smooth_over_frames

MIN_FRAMES = 2
MIN_SYNC_LAG = 3  # the sync search range shrinks to fit short clips, but not below ±3 frames
STILL_FRACTION = 0.1  # a mouth opening varying < 10 % as much as the ground truth's has no sync score


TRACK_SIDE = 256  # frames smaller than this are upscaled for FaceMesh (at 96²: lip error 0.52 → 0.38 px)


def _video_tracker() -> LipTracker:
    """FaceMesh in tracking mode over consecutive frames and over their mirror images (averaged), small frames
    upscaled to TRACK_SIDE. How closely that follows the true mouth, measured on synthetic speakers: the 96² demo's
    ground-truth frames' opening follows the exact one at ρ 0.855 from the frames alone, 0.922 with their mirror
    images, 0.946 smoothed as `mouth_corr` reads it; on the hard synthetic speaker's 96² frames the single view
    reached only ρ 0.50, the ceiling of any video's `mouth_corr` there (docs/evaluation.md, "How far ρ can be
    trusted")."""
    return LipTracker(min_side=TRACK_SIDE, static=False, mirror=True)


def _unavailable(reason: str) -> str:
    return f"unavailable: {reason}"


def _load_lpips(weights: str | os.PathLike[str] | None) -> tuple[Any, str | None]:
    """(LPIPS module, None) or (None, reason). Never downloads: the AlexNet file must be cached or given."""
    from talkzoo.zoo.losses.lpips import LPIPS, LPIPSWeightsUnavailable, backbone_cache_path

    if weights is None and not backbone_cache_path().is_file():
        return None, (
            f"AlexNet weights not found at {backbone_cache_path()}; copy alexnet-owt-7be5be79.pth there "
            "or pass --lpips-weights PATH"
        )
    try:
        return LPIPS(weights), None
    except LPIPSWeightsUnavailable as exc:
        return None, str(exc)


def audio_offset(pred_audio: np.ndarray, reference: np.ndarray, start: int, sample_rate: int, fps: float) -> dict:
    """Where the prediction's audio lies in the speaker's recording, by normalised waveform cross-correlation.

    pred_audio [N] and reference [M] at sample_rate; start = the sample of the split's first frame.
    offset_frames = k: the prediction's audio at time t is the speaker's audio at split start + t + k frames
    (0 = aligned with the split). match = the peak's normalised correlation (≈1 same audio, ≈0 unrelated).
    """
    from scipy.signal import correlate

    pred = np.asarray(pred_audio, np.float64)
    ref = np.asarray(reference, np.float64)
    if len(pred) == 0 or len(ref) == 0 or not np.any(pred) or not np.any(ref):
        return {"offset_frames": None, "offset_ms": None, "match": 0.0, "note": "silent or empty audio"}
    corr = correlate(ref, pred, mode="full", method="fft")  # corr[j] = Σ_t ref[t + s] pred[t], s = j − (N − 1)
    shifts = np.arange(len(corr)) - (len(pred) - 1)
    energy = np.concatenate([[0.0], np.cumsum(ref**2)])
    lo = np.clip(shifts, 0, len(ref))
    hi = np.clip(shifts + len(pred), 0, len(ref))
    window = np.sqrt(np.maximum(energy[hi] - energy[lo], 0.0))
    normed = corr / (np.linalg.norm(pred) * window + 1e-12)
    overlap = hi - lo
    normed[overlap < min(len(pred), len(ref)) // 2] = -np.inf  # edge lags with little overlap are unreliable
    best = int(np.argmax(normed))
    offset = int(shifts[best]) - start
    return {
        "offset_frames": round(offset * fps / sample_rate, 3),
        "offset_ms": round(1000.0 * offset / sample_rate, 3),
        "match": float(normed[best]),
    }


def _even_padding(pred_hw: tuple[int, ...], true_hw: tuple[int, ...]) -> bool:
    """Whether pred [H', W', ...] is true [H, W, ...] padded to even sizes (H' − H, W' − W ∈ {0, 1}, H', W' even)."""
    dh, dw = pred_hw[0] - true_hw[0], pred_hw[1] - true_hw[1]
    return (dh, dw) != (0, 0) and dh in (0, 1) and dw in (0, 1) and pred_hw[0] % 2 == 0 and pred_hw[1] % 2 == 0


def _frame_psnr(mse: float) -> float:
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _landmark_metrics(lips_pred: np.ndarray, lips_true: np.ndarray, min_detection: float) -> dict[str, Any]:
    """LMD, centred LMD, LMD-v and mouth-area IoU over frames detected in both; [N, 40, 2] with NaN = missed."""
    import torch

    from talkzoo.zoo.metrics.landmarks import landmark_distance, mouth_area_iou, pearson

    n = len(lips_pred)
    found_p = ~np.isnan(lips_pred).any(axis=(1, 2))
    found_t = ~np.isnan(lips_true).any(axis=(1, 2))
    both = found_p & found_t
    detection = {"pred": float(found_p.mean()), "gt": float(found_t.mean()), "both_frames": int(both.sum())}
    out: dict[str, Any] = {"detection": detection}
    if both.mean() < min_detection or both.sum() < 1:
        reason = _unavailable(
            f"MediaPipe found the face in {found_p.sum()}/{n} predicted and {found_t.sum()}/{n} ground-truth "
            f"frames (need both in ≥ {min_detection:.0%})"
        )
        return {**out, **dict.fromkeys(("lmd", "lmd_centred", "lmd_v", "mouth_iou", "mouth_corr"), reason)}
    p, t = torch.from_numpy(lips_pred[both]), torch.from_numpy(lips_true[both])
    opening_pred, opening_true = mouth_opening_series(lips_pred), mouth_opening_series(lips_true)  # smoothed, [N]
    centred = landmark_distance(p - p.mean(dim=1, keepdim=True), t - t.mean(dim=1, keepdim=True))
    pairs = both[1:] & both[:-1]
    if pairs.any():
        dp = torch.from_numpy(lips_pred[1:][pairs] - lips_pred[:-1][pairs])
        dt = torch.from_numpy(lips_true[1:][pairs] - lips_true[:-1][pairs])
        lmd_v: Any = float(landmark_distance(dp, dt).mean())
    else:
        lmd_v = _unavailable("no two consecutive frames detected in both videos")
    return {
        **out,
        "lmd": float(landmark_distance(p, t).mean()),
        "lmd_centred": float(centred.mean()),
        "lmd_v": lmd_v,
        "mouth_iou": float(np.mean(mouth_area_iou(p, t))),
        "mouth_corr": pearson(torch.from_numpy(opening_pred[both]), torch.from_numpy(opening_true[both])),
    }


def _mouth_series(lips: np.ndarray, min_detection: float) -> np.ndarray | None:
    """Unsmoothed mouth opening [N] (pixels) from lips [N, 40, 2] (NaN = missed; gaps interpolated), or None if too
    sparse."""
    found = ~np.isnan(lips).any(axis=(1, 2))
    if found.mean() < min_detection or found.sum() < 2:
        return None
    return mouth_opening_series(lips, smooth=False)


def _still_mouth(mouth: np.ndarray | None, truth: np.ndarray | None) -> str | None:
    """ "unavailable: …" when the prediction's mouth opening [N] varies less than STILL_FRACTION of the ground
    truth's [N] (a still image: its tracker jitter, z-scored, would correlate with the speech by chance), else None."""
    if mouth is None or truth is None or not np.isfinite(truth).all() or truth.std() == 0:
        return None
    if mouth.std() >= STILL_FRACTION * truth.std():
        return None
    return _unavailable(
        f"the mouth does not move (its opening varies by {mouth.std():.3f} px, the ground truth's by "
        f"{truth.std():.3f} px)"
    )


def _sync(
    mouth: np.ndarray | None, wave: np.ndarray, sample_rate: int, fps: float, max_lag: int, lead: int, source: str
) -> Any:
    """Sync score of mouth opening [N] against the energy of wave; offset = raw lag + lead (see evaluate_video)."""
    from talkzoo.zoo.metrics.sync import frame_energy, sync_offset

    if mouth is None:
        return _unavailable("too few frames with a detected face for the mouth opening")
    lag = min(max_lag, (len(mouth) - 2) // 2)
    if lag < MIN_SYNC_LAG:
        return _unavailable(f"{len(mouth)} frames are too few for a sync search (need ≥ {2 * MIN_SYNC_LAG + 2})")
    score = sync_offset(mouth, frame_energy(wave, sample_rate, fps, len(mouth)), max_lag=lag)
    return {
        "offset": score.offset + lead,
        "raw_lag": score.offset,
        "lead_frames": lead,
        "confidence": score.confidence,
        "correlation": score.correlation,
        "max_lag": lag,
        "audio": source,
    }


@dataclass
class Truth:
    """What every prediction of one speaker split is compared with, measured once (`measure_truth`) and shared:
    lips float32 [n, 40, 2] (MediaPipe, NaN where no face), niqe float64 [n] (NaN where not computed)."""

    speaker: str
    split: str
    lips: np.ndarray
    niqe: np.ndarray

    @property
    def count(self) -> int:
        return len(self.lips)


def measure_truth(speaker: Any, split: str = "val", max_frames: int | None = None, niqe_every: int = 1,
                  progress: bool = False) -> Truth:  # fmt: skip
    """The split's ground-truth lip points and NIQE (every niqe_every-th frame; none when the frames are smaller
    than NIQE's patch) for the first max_frames frames (all by default)."""
    from tqdm import tqdm

    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.zoo.metrics.niqe import PATCH, niqe

    spk = speaker if isinstance(speaker, Speaker) else Speaker(Path(speaker))
    indices = spk.split_indices(split)[:max_frames]
    lips = np.full((len(indices), 40, 2), np.nan, np.float32)
    scores = np.full(len(indices), np.nan)
    niqe_ok = min(spk.meta.width, spk.meta.height) >= PATCH
    tracker = _video_tracker()
    try:
        for k, index in enumerate(tqdm(indices, desc="ground truth", unit="frame", disable=not progress)):
            frame = spk.frame(int(index))
            found = tracker(frame)
            if found is not None:
                lips[k] = found
            if niqe_ok and k % niqe_every == 0:
                scores[k] = niqe(frame)
    finally:
        tracker.close()
    return Truth(str(spk.root), split, lips, scores)


def _check_truth(truth: Truth, split: str, root: Path) -> None:
    if truth.split != split or truth.speaker != str(root):
        raise ValueError(f"truth measured for {truth.speaker} ({truth.split}), not {root} ({split})")


def evaluate_video(
    pred_path: str | os.PathLike[str],
    speaker: Any,
    split: str = "val",
    max_frames: int | None = None,
    max_lag: int = 15,
    lpips_weights: str | os.PathLike[str] | None = None,
    niqe_every: int = 1,
    min_detection: float = 0.5,
    max_audio_s: float = 30.0,
    sync_lead_frames: int = 1,
    torch_threads: int | None = None,
    progress: bool = True,
    truth: Truth | Callable[[], Truth] | None = None,
    series: bool = False,
) -> dict[str, Any]:
    """Score PRED against the speaker's `split` frames; returns the metrics dict (see module docstring).

    speaker: a speaker folder path or a `talkzoo.datamodules.speaker.Speaker`. max_frames: compare at most this many
    frames. max_lag: sync search range (frames). niqe_every: NIQE on every k-th frame (k ≥ 1).
    min_detection: the fraction of frames with a detected face below which landmark metrics are unavailable.
    max_audio_s: seconds of the prediction's audio used for the audio-offset estimate.
    sync_lead_frames: the lead of mouth opening over speech energy at which a video counts as in sync: the
    reported sync offset is the raw lag + this (the mouth opens before the sound; SyncNet, trained on real
    video, calls such a video offset 0; the synthetic speaker's mouth leads by exactly 1 frame).
    torch_threads: torch's intra-op threads during the frame loop (None: unchanged; 1 is fastest on a busy CPU).
    truth: the split's ground-truth measurements from `measure_truth` (same split and niqe_every), shared when
    several videos are scored against one speaker, or a callable returning them, called once the prediction's
    frames are scored (so several videos can be scored while the truth is measured); None: measured here.
    series: also return result["series"] (numpy, not JSON): per-frame mouth opening of prediction and ground
    truth (px, gaps interpolated, smoothed as `mouth_corr` reads them), the speech energy the sync score used, and
    the sync correlation per lag of the prediction and of the ground truth (with that energy).
    """
    import torch
    from tqdm import tqdm

    from talkzoo.datamodules.media import iter_frames, probe_video, read_audio
    from talkzoo.datamodules.speaker import Speaker
    from talkzoo.zoo.metrics.niqe import PATCH, niqe

    if split not in ("val", "train", "all"):
        raise UserError(f"unknown split {split!r}; use --split val, train or all")
    if max_frames is not None and max_frames < MIN_FRAMES:
        raise UserError(f"--max-frames must be ≥ {MIN_FRAMES}, got {max_frames}")
    if niqe_every < 1:
        raise UserError(f"niqe_every must be ≥ 1, got {niqe_every}")
    spk = speaker if isinstance(speaker, Speaker) else Speaker(Path(speaker))
    info = probe_video(pred_path)
    indices = spk.split_indices(split)
    n = min(info.num_frames, len(indices), max_frames or len(indices))
    if n < MIN_FRAMES:
        raise UserError(
            f"{pred_path}: only {n} frame(s) to compare ({info.num_frames} in the video, {len(indices)} in the "
            f"speaker's {split} split); need ≥ {MIN_FRAMES}: render more frames or use --split all"
        )
    if isinstance(truth, Truth):
        _check_truth(truth, split, spk.root)  # before the frame loop: a wrong measurement fails at once
    meta = spk.meta
    sr, fps = meta.sample_rate, meta.fps
    result: dict[str, Any] = {
        "pred": str(pred_path),
        "speaker": str(spk.root),
        "split": split,
        "frames": {
            "compared": n,
            "pred": info.num_frames,
            "split": len(indices),
            "split_first": int(indices[0]),
            "pred_fps": info.fps,
            "speaker_fps": fps,
        },
        "resized": None,
    }
    if (info.width, info.height) != (meta.width, meta.height) and not _even_padding(
        (info.height, info.width), (meta.height, meta.width)
    ):
        result["resized"] = f"{info.width}x{info.height} -> {meta.width}x{meta.height}"

    # audio: where the prediction's track sits in the speaker's recording; which audio the sync score uses
    split_start = int(round(indices[0] / fps * sr))
    speaker_wave = spk.audio()
    if info.has_audio:
        pred_wave = read_audio(pred_path, sr)
        result["audio"] = {
            "source": "pred",
            **audio_offset(pred_wave[: int(max_audio_s * sr)], speaker_wave, split_start, sr, fps),
        }
        sync_wave, sync_source = pred_wave, "pred audio track"
        sync_fps = info.fps if info.fps > 0 else fps  # the prediction's own frame ↔ audio timing
    else:
        result["audio"] = {"source": "speaker", "note": "the prediction has no audio track"}
        sync_wave, sync_source, sync_fps = speaker_wave[split_start:], "speaker split audio", fps

    lpips, lpips_reason = _load_lpips(lpips_weights)
    niqe_ok = min(meta.width, meta.height) >= PATCH
    threads = torch.get_num_threads()
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    pred_tracker = _video_tracker()
    psnr, mse_all, ssim, lp, niqe_pred = [], [], [], [], []
    lips_pred = np.full((n, 40, 2), np.nan, np.float32)
    frames = iter_frames(pred_path)
    try:
        for k in tqdm(range(n), desc="evaluate", unit="frame", disable=not progress):
            pred = next(frames, None)
            if pred is None:  # the container promised more frames than it decodes
                n = k
                break
            true = spk.frame(int(indices[k]))
            if pred.shape != true.shape and _even_padding(pred.shape, true.shape):
                pred = pred[: true.shape[0], : true.shape[1]]  # write_video pads odd sizes by one pixel
            elif pred.shape != true.shape:
                shrink = pred.shape[0] > true.shape[0]
                pred = cv2.resize(pred, true.shape[1::-1], interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
            p = pred.astype(np.float64) / 255.0
            t = true.astype(np.float64) / 255.0
            mse = float(np.mean((p - t) ** 2))
            mse_all.append(mse)
            psnr.append(_frame_psnr(mse))
            ssim.append(_ssim(p, t))
            if lpips is not None:
                lp.append(_lpips(lpips, p, t))
            if niqe_ok and k % niqe_every == 0:
                niqe_pred.append(niqe(pred))
            found = pred_tracker(pred)
            if found is not None:
                lips_pred[k] = found
    finally:
        torch.set_num_threads(threads)
        frames.close()
        pred_tracker.close()

    if n < MIN_FRAMES:
        raise UserError(f"{pred_path}: only {n} frame(s) could be decoded; re-encode or re-export the video")
    if callable(truth):
        truth = truth()
        _check_truth(truth, split, spk.root)
    if truth is None or truth.count < n:
        truth = measure_truth(spk, split, n, niqe_every)
    result["frames"]["compared"] = n
    lips_pred, lips_true = lips_pred[:n], truth.lips[:n]
    differing = [v for v in psnr if math.isfinite(v)]
    result["psnr"] = _mean(differing) if differing else math.inf
    result["identical_frames"] = n - len(differing)
    result["mse"] = _mean(mse_all)
    result["ssim"] = _mean(ssim)
    result["lpips"] = _mean(lp) if lpips is not None else _unavailable(lpips_reason or "")
    result.update(_landmark_metrics(lips_pred, lips_true, min_detection))
    if niqe_ok:
        niqe_true = truth.niqe[:n][np.arange(n) % niqe_every == 0]
        result["niqe_pred"], result["niqe_gt"] = _mean(niqe_pred), _mean(list(niqe_true))
    else:
        reason = _unavailable(f"frames of {meta.width}x{meta.height} are smaller than NIQE's {PATCH}x{PATCH} patch")
        result["niqe_pred"] = result["niqe_gt"] = reason
    lead = sync_lead_frames
    # the sync score and the still-mouth check read the unsmoothed opening: their thresholds were set on it, and
    # smoothed tracker jitter alone correlates with speech energy more (a still frame's confidence 0.13 → 0.26)
    mouth, mouth_true = _mouth_series(lips_pred, min_detection), _mouth_series(lips_true, min_detection)
    still = _still_mouth(mouth, mouth_true)
    result["sync"] = _sync(mouth, sync_wave, sr, sync_fps, max_lag, lead, sync_source) if still is None else still
    result["sync_gt"] = _sync(mouth_true, speaker_wave[split_start:], sr, fps, max_lag, lead, "speaker split")
    if series:
        result["series"] = _series(mouth, mouth_true, sync_wave, sr, sync_fps, n, result["sync"])
    return result


def _series(
    mouth: np.ndarray | None, mouth_true: np.ndarray | None, wave: np.ndarray, sample_rate: int, fps: float,
    n: int, sync: Any,
) -> dict[str, np.ndarray | None]:  # fmt: skip
    """The per-frame curves behind the numbers (for plots): see `evaluate_video(series=True)`. mouth, mouth_true:
    the unsmoothed openings [N] the sync score read (None: too few faces); the returned openings are them smoothed,
    as `mouth_corr` correlates them."""
    from talkzoo.zoo.metrics.sync import frame_energy, sync_curve

    energy = frame_energy(wave, sample_rate, fps, n)
    lags = corr = corr_true = None
    if mouth is not None and isinstance(sync, dict):
        lags, corr = sync_curve(mouth, energy, sync["max_lag"])
        if mouth_true is not None:
            corr_true = sync_curve(mouth_true, energy, sync["max_lag"])[1]
    smoothed = [None if m is None else smooth_over_frames(m) for m in (mouth, mouth_true)]
    return {"mouth_pred": smoothed[0], "mouth_gt": smoothed[1], "energy": energy, "sync_lags": lags,
            "sync_corr": corr, "sync_corr_gt": corr_true}  # fmt: skip


def _ssim(p: np.ndarray, t: np.ndarray) -> float:
    """torchmetrics SSIM (Gaussian window 11, σ 1.5) of two [H, W, 3] images in [0, 1]."""
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure

    a = torch.from_numpy(p).permute(2, 0, 1)[None].float()
    b = torch.from_numpy(t).permute(2, 0, 1)[None].float()
    return float(structural_similarity_index_measure(a, b, data_range=1.0))


def _lpips(model: Any, p: np.ndarray, t: np.ndarray) -> float:
    import torch

    a = torch.from_numpy(p).permute(2, 0, 1)[None].float()
    b = torch.from_numpy(t).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        return float(model(a, b)[0])


def to_json(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become the strings "inf", "-inf", "nan"."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, float | np.floating) and not math.isfinite(value):
        return str(float(value))
    if isinstance(value, np.generic):
        return value.item()
    return value


def format_table(result: dict[str, Any]) -> str:
    """The printed summary: one markdown row per metric."""

    def show(value: Any) -> str:
        if isinstance(value, float):
            return "inf" if value == math.inf else f"{value:.4f}"
        return str(value)

    frames = result["frames"]
    same = f" ({result['identical_frames']} identical frames)" if result["identical_frames"] else ""
    rows = [
        ("frames compared", f"{frames['compared']} (pred {frames['pred']}, {result['split']} split {frames['split']})"),
        ("resized", result["resized"] or "no"),
        ("PSNR (dB) ↑", show(result["psnr"]) + same),
        ("SSIM ↑", show(result["ssim"])),
        ("LPIPS ↓", show(result["lpips"])),
        ("LMD, 40 lip points (px) ↓", show(result["lmd"])),
        ("LMD, mean-centred (px) ↓", show(result["lmd_centred"])),
        ("LMD-v (px) ↓", show(result["lmd_v"])),
        ("mouth-area IoU ↑", show(result["mouth_iou"])),
        ("mouth opening corr. with gt ↑", show(result["mouth_corr"])),
        ("face detected pred / gt", f"{result['detection']['pred']:.0%} / {result['detection']['gt']:.0%}"),
        ("NIQE pred / gt ↓", f"{show(result['niqe_pred'])} / {show(result['niqe_gt'])}"),
    ]
    for key, label in (("sync", "sync pred"), ("sync_gt", "sync ground truth")):
        sync = result[key]
        if isinstance(sync, dict):
            rows.append((f"{label}: offset (frames), confidence ↑", f"{sync['offset']:+d}, {sync['confidence']:.3f}"))
        else:
            rows.append((label, str(sync)))
    audio = result["audio"]
    if audio.get("source") == "pred" and audio.get("offset_frames") is not None:
        rows.append(("audio offset vs speaker (frames), match", f"{audio['offset_frames']:+.2f}, {audio['match']:.3f}"))
    else:
        rows.append(("audio offset vs speaker", audio.get("note", "-")))
    return "\n".join(["| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def main(argv: Sequence[str] | None = None) -> int:
    """`talkzoo evaluate PRED.mp4 SPEAKER [--split val|train|all] [--out metrics.json] [--max-frames N]`."""
    parser = argparse.ArgumentParser(prog="talkzoo evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("pred", help="the rendered video (mp4/mov/mkv)")
    parser.add_argument("speaker", help="the speaker folder it is compared with")
    parser.add_argument("--split", default="val", choices=("val", "train", "all"))
    parser.add_argument("--out", default=None, help="write the metrics as JSON here")
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--max-lag", type=int, default=15, help="sync search range, frames")
    parser.add_argument("--lpips-weights", default=None, help="torchvision's alexnet-owt-7be5be79.pth")
    parser.add_argument("--niqe-every", type=int, default=1, help="NIQE on every k-th frame")
    parser.add_argument("--sync-lead-frames", type=int, default=1, help="mouth lead counted as in sync, frames")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (1 is fastest on a busy CPU)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(list(argv) if argv is not None else None)
    result = evaluate_video(
        args.pred,
        args.speaker,
        split=args.split,
        max_frames=args.max_frames,
        max_lag=args.max_lag,
        lpips_weights=args.lpips_weights,
        niqe_every=args.niqe_every,
        sync_lead_frames=args.sync_lead_frames,
        torch_threads=args.threads,
        progress=not args.no_progress,
    )
    print(format_table(result))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(to_json(result), indent=2))
        print(f"wrote {out}")
    return 0

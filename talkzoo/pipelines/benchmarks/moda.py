"""MODA audio → motion speed: real-time factor of `MODA.predict_motion` (paper widths, dual attention) with the
log-mel encoder (target ≥ 50× real time on 2 CPU cores) and with a wav2vec2-base-sized random encoder, both ways of
reaching the frame rate (the original's conv features resampled before the transformer, the default, and the
transformer at 50 Hz resampled after); in the full run also a 10-minute audio (time and peak-memory growth: memory
stays bounded by the sliding window)."""

from __future__ import annotations

import resource

import numpy as np

from talkzoo.pipelines.bench import BenchContext, register


def _identity_stats() -> object:
    """Speaker statistics with mean 0 / std 1 (predict_motion needs some; timing does not care which)."""
    from talkzoo.datamodules.stats import SpeakerStats

    def arr(*shape: int, value: float = 0.0) -> np.ndarray:
        return np.full(shape, value, dtype=np.float32)

    mesh = np.random.default_rng(0).standard_normal((478, 3)).astype(np.float32)
    return SpeakerStats(
        speaker="bench", num_frames=1, mesh_mean=mesh, mesh_std=arr(478, 3, value=1), lips_mean=arr(40, 3),
        lips_std=arr(40, 3, value=1), eyes_mean=arr(60, 3), eyes_std=arr(60, 3, value=1), head_mean=arr(7),
        head_std=arr(7, value=1), torso_mean=arr(18, 3), torso_std=arr(18, 3, value=1),
        subject_center=arr(3), subject_scale=1.0,
    )  # fmt: skip


def _model(encoder: str, device: str, resample: str = "features") -> object:
    from talkzoo.datamodules.speaker_info import SpeakerInfo
    from talkzoo.lightning_modules.moda import MODA
    from talkzoo.zoo.moda import DualAttention, MelConvEncoder, Wav2VecEncoder
    from talkzoo.zoo.portrait import Camera

    audio = (
        MelConvEncoder(80, 128)
        if encoder == "mel"
        else Wav2VecEncoder(random_init=True, size="base", hidden=128, resample=resample)
    )
    model = MODA(audio, DualAttention(128, 4, 3, 128, 0.1, period=25), hidden=128)
    source = "features" if encoder == "mel" else "waveform"
    info = SpeakerInfo("bench", 25.0, 16000, Camera(1.0, 0.0, 0.0, 1, 1), (1, 1), 1, 1, audio_source=source,
                       stats=_identity_stats())  # fmt: skip
    model.set_speakers([info])
    return model.to(device).eval()


@register("moda")
def bench_moda(ctx: BenchContext) -> dict[str, float]:
    device = "cuda" if ctx.cuda else "cpu"
    seconds = 10.0 if ctx.quick else 60.0
    wave = np.random.default_rng(0).standard_normal(int(seconds * 16000)).astype(np.float32) * 0.1
    results: dict[str, float] = {"audio_seconds": seconds}
    mel = _model("mel", device)
    results["mel_realtime_factor"] = seconds / ctx.median_time(lambda: mel.predict_motion(wave))
    if not ctx.quick:  # before the wav2vec2 model exists, so the peak-memory growth is the long run's own
        long_wave = np.random.default_rng(1).standard_normal(600 * 16000).astype(np.float32) * 0.1
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        results["mel_10min_realtime_factor"] = 600.0 / ctx.median_time(lambda: mel.predict_motion(long_wave), 1)
        results["mel_10min_peak_rss_growth_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - before
    # the original (conv features resampled to frames before the transformer) and the 50 Hz transformer
    keys = {"features": "wav2vec2_base_realtime_factor", "output": "wav2vec2_base_50hz_realtime_factor"}
    for resample, key in keys.items():
        w2v = _model("wav2vec2", device, resample)
        results[key] = seconds / ctx.median_time(lambda model=w2v: model.predict_motion(wave), repeats=1)
    return results

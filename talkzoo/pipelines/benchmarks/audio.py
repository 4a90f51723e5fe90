"""Audio feature extraction speed: real-time factor of log-mel and of a wav2vec2-base-sized encoder."""

from __future__ import annotations

import numpy as np

from talkzoo.pipelines.bench import BenchContext, register


@register("audio_features")
def bench_audio_features(ctx: BenchContext) -> dict[str, float]:
    from talkzoo.zoo.audio import extract

    seconds = 10.0 if ctx.quick else 60.0
    wave = np.random.default_rng(0).standard_normal(int(seconds * 16000)).astype(np.float32) * 0.1
    device = "cuda" if ctx.cuda else "cpu"
    mel = ctx.median_time(lambda: extract("mel", wave, 16000))
    wav2vec2 = ctx.median_time(
        lambda: extract("wav2vec2", wave, 16000, device=device, random_init=True, size="base"), repeats=1
    )
    return {
        "audio_seconds": seconds,
        "mel_realtime_factor": seconds / mel,
        "wav2vec2_base_random_realtime_factor": seconds / wav2vec2,
    }

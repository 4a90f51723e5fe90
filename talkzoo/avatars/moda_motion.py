"""MODA's motion for a stream: the A→R model run over fixed windows keyed by absolute frame.

Window k predicts frames [k·S, k·S + S) from the input frames [k·S − C, k·S + S + L) ∩ [0, T) (S = stride, C =
context, L = lookahead). It runs once those inputs have arrived (or the audio ended), so a chunked stream and a
one-shot file give the same windows. ProbAttn's noise is drawn per absolute frame from (seed, frame), so every
window that contains a frame samples the same latent for it and consecutive windows join smoothly. Each part is
then smoothed with the model's per-part σ (talkzoo.zoo.moda.smooth_time's filter), de-normalised with the
speaker's statistics stored in the checkpoint.
"""

from __future__ import annotations

import numpy as np
import torch

from talkzoo.lightning_modules.moda import MODA, PARTS
from talkzoo.zoo.moda import PART_SHAPES

from .audio import StreamAudio
from .tracks import GaussianSmoother, Track

NOISE_SEED_STRIDE = 1_000_003


def frame_noise(seed: int, first: int, count: int, dim: int) -> np.ndarray:
    """float32 [count, dim]: standard normal noise of frames first … first + count − 1, each from its own seed."""
    rows = [torch.randn(dim, generator=torch.Generator().manual_seed(seed * NOISE_SEED_STRIDE + f)) for f in
            range(first, first + count)]  # fmt: skip
    return torch.stack(rows).numpy() if rows else np.zeros((0, dim), np.float32)


class MotionStream:
    """Lips [40, 3], eyes [60, 3], head [7], torso [18, 3] per frame, in the speaker's canonical units.

    Args:
        moda: the trained MODA module (eval mode). speaker_index: the speaker among the checkpoint's.
        audio: the stream's audio (features or samples, as the model reads). stride, context, lookahead: S, C, L in
        frames. temperature, seed: ProbAttn sampling (None: the run's).
    """

    def __init__(
        self,
        moda: MODA,
        speaker_index: int,
        audio: StreamAudio,
        stride: int = 4,
        context: int = 96,
        lookahead: int = 6,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> None:
        if stride < 1 or context < 0 or lookahead < 0:
            raise ValueError(f"motion windows need stride ≥ 1, context ≥ 0, lookahead ≥ 0 (got {stride}, {context}, "
                             f"{lookahead})")  # fmt: skip
        self.moda, self.audio = moda, audio
        self.stats = moda.speaker_stats[speaker_index]
        self.stride, self.context, self.lookahead = stride, context, lookahead
        hp = moda.hparams
        self.temperature = float(hp.temperature if temperature is None else temperature)
        self.seed = int(hp.seed if seed is None else seed)
        self.smoothers = {p: GaussianSmoother(float(moda.smoothing.get(p, 0.0))) for p in PARTS}
        self.subject = torch.from_numpy(self.stats.subject_code()).to(moda.device)[None]
        self.latent = int(moda.body.latent_dim)
        self.reset()

    def reset(self) -> None:
        self.parts = {p: Track(PART_SHAPES[p]) for p in PARTS}
        self.noise = Track((self.latent,))
        self._window = 0

    @property
    def frames_lookahead(self) -> int:
        """Frames of audio after frame t that frame t's motion can depend on (worst case: t at a window start)."""
        return self.stride - 1 + self.lookahead + max(s.lookahead for s in self.smoothers.values())

    def advance(self, frames_known: int, total: int | None) -> None:
        """Run every window whose inputs are available (all remaining ones once `total` is known)."""
        while True:
            first = self._window * self.stride
            if total is not None:
                if first >= total:
                    return
                stop_in = min(first + self.stride + self.lookahead, total)
            else:
                stop_in = first + self.stride + self.lookahead
                if stop_in > frames_known or not self._inputs_ready(max(0, first - self.context), stop_in):
                    return
            self._run_window(max(0, first - self.context), stop_in, first, min(first + self.stride, stop_in))
            self._window += 1

    def _inputs_ready(self, start: int, stop: int) -> bool:
        if self.moda.input_kind == "waveform":
            return self.audio.samples_ready(self._sample_span(start, stop)[1])
        return self.audio.frame_vector_ready(stop - 1)

    def _sample_span(self, start: int, stop: int) -> tuple[int, int]:
        """Samples of frames [start, stop) as MODA._window_audio cuts them: round(start·spf) + round(length·spf)."""
        spf = self.audio.sample_rate_per_frame
        begin = int(round(start * spf))
        return begin, begin + int(round((stop - start) * spf))

    def _run_window(self, start: int, stop: int, keep_start: int, keep_stop: int) -> None:
        length = stop - start
        if self.moda.input_kind == "waveform":
            audio = torch.from_numpy(self.audio.sample_range(*self._sample_span(start, stop)))[None]
        else:
            audio = torch.from_numpy(self.audio.frame_vectors(np.arange(start, stop)))[None]
        noise = None
        if self.latent > 0 and self.temperature > 0:
            if len(self.noise) < stop:
                self.noise.append(frame_noise(self.seed, len(self.noise), stop - len(self.noise), self.latent))
            noise = torch.from_numpy(self.noise[start:stop])[None].to(self.moda.device)
        moda = self.moda
        x_a = moda.audio_encoder(audio.to(moda.device), length)
        x_s = moda.subject_encoder(self.subject)
        body = moda.body(x_a, x_s, temperature=self.temperature, noise=noise)
        pred = moda.tails(body.features)
        offset = keep_start - start
        for p in PARTS:
            rows = pred[p][0, offset : offset + keep_stop - keep_start].float().cpu()
            self.parts[p].put(keep_start, np.asarray(self.stats.denormalise(p, rows), dtype=np.float32))

    def ready(self, t: int, total: int | None) -> bool:
        return all(s.ready(t, len(self.parts[p]), total) for p, s in self.smoothers.items())

    def at(self, t: int, total: int | None) -> dict[str, np.ndarray]:
        """{part: smoothed value of frame t}; call when `ready(t, total)`."""
        return {p: s.at(self.parts[p].values, t, total) for p, s in self.smoothers.items()}

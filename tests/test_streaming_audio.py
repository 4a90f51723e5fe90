"""The streaming log-mel extractor equals the offline one bit for bit, however the audio is cut."""

from __future__ import annotations

import numpy as np
import pytest

from talkzoo.zoo.audio import extract
from talkzoo.zoo.audio.streaming import MelStream


@pytest.mark.parametrize("seconds", [0.0, 0.01, 0.3, 2.7])
def test_mel_stream_is_bit_identical_to_offline(seconds: float) -> None:
    rng = np.random.default_rng(int(seconds * 100))
    wave = (rng.standard_normal(int(seconds * 16000)) * 0.2).astype(np.float32)
    offline = extract("mel", wave, 16000).values
    for trial in range(3):
        stream, rows, i = MelStream(), [], 0
        while i < len(wave):
            step = int(rng.integers(1, 4000)) if trial else 160  # random pieces, then 10 ms pieces
            rows.append(stream.push(wave[i : i + step]))
            i += step
        rows.append(stream.finish())
        streamed = np.concatenate(rows)
        assert streamed.shape == offline.shape
        assert np.array_equal(streamed, offline)


def test_rows_arrive_as_soon_as_their_samples_do() -> None:
    stream = MelStream()
    assert len(stream.push(np.zeros(199, np.float32))) == 0  # frame 0 reads samples up to 199
    assert len(stream.push(np.zeros(1, np.float32))) == 1
    assert len(stream.push(np.zeros(160, np.float32))) == 1  # one row per 10 ms after that
    assert stream.frames_emitted == 2
    assert len(stream.finish()) == 1  # 360 samples → 360 // 160 + 1 = 3 rows in all
    with pytest.raises(RuntimeError, match="reset"):
        stream.push(np.zeros(1, np.float32))

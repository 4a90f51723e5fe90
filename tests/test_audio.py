"""Audio feature extractors (talkzoo.zoo.audio): log-mel framing and content, wav2vec2 / HuBERT loading and chunking."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import talkzoo.zoo.audio as audio
from talkzoo.zoo.errors import UserError

SR = 16000


def _tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """An amplitude-modulated harmonic signal plus noise: [N] float32 at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180.0, 360.0, 720.0, 1500.0), start=1))
    x = 0.3 * x * (1.2 + np.sin(2 * np.pi * 3.0 * t)) + 0.05 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def _slaney_hz_to_mel(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    lin = 3.0 * f / 200.0
    log = 15.0 + 27.0 * np.log(np.maximum(f, 1e-9) / 1000.0) / math.log(6.4)
    return np.where(f >= 1000.0, log, lin)


def _slaney_mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp(math.log(6.4) * (m - 15.0) / 27.0), 200.0 * m / 3.0)


# ---------------------------------------------------------------- log-mel


@pytest.mark.parametrize("n", [0, 1, 159, 160, 161, 400, 16000, 2 * 16000 + 77])
def test_mel_shape_and_rate(n: int) -> None:
    wave = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    feats = audio.extract("mel", wave, SR)
    assert feats.values.dtype == np.float32
    assert feats.values.shape == (n // 160 + 1, 80)
    assert feats.rate_hz == 100.0
    assert feats.extractor == "mel" and feats.model_id == ""
    assert audio.num_feature_frames("mel", n) == feats.num_frames
    assert feats.metadata()["dim"] == 80


def test_mel_tone_peaks_in_its_bin() -> None:
    # centre frequencies of the 80 Slaney mel filters over 0..8 kHz, computed independently of transformers
    centres = _slaney_mel_to_hz(np.linspace(0.0, _slaney_hz_to_mel(np.array(8000.0)), 82))[1:-1]
    peaks = []
    for m in (10, 25, 40, 60, 75):
        freq = float(centres[m])
        mel = audio.extract("mel", _tone(freq, 1.0), SR).values[5:-5]  # away from the padded edges
        peak = int(np.argmax(mel.mean(axis=0)))
        assert peak == m, f"{freq:.0f} Hz tone peaks in mel bin {peak}, expected {m}"
        peaks.append(peak)
        # energy is concentrated: far bins are much quieter than the peak (log domain)
        assert mel.mean(axis=0)[peak] - np.median(mel.mean(axis=0)) > 5.0
    assert peaks == sorted(peaks)


def test_mel_frame_centres_follow_onsets() -> None:
    # a burst from sample 8000 (0.5 s): frame j's window is samples [160 j - 200, 160 j + 200), centred at j * 10 ms,
    # so frame 48 ([7480, 7880)) is pure silence and frame 49 ([7640, 8040)) is the first to hear the burst
    wave = np.zeros(SR, np.float32)
    wave[SR // 2 :] = _tone(1000.0, 0.5)
    mel = audio.extract("mel", wave, SR).values
    silent = math.log(1e-5)
    np.testing.assert_allclose(mel[:49], silent, atol=1e-4)
    assert mel[49].max() > silent + 3.0
    assert mel[50].max() > mel[49].max()


def test_mel_silence_is_finite_and_deterministic() -> None:
    silence = np.zeros(SR, np.float32)
    a = audio.extract("mel", silence, SR).values
    b = audio.extract("mel", silence, SR).values
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, math.log(1e-5), atol=1e-6)


def test_logmel_module_matches_extract() -> None:
    waves = np.stack([_speechlike(1.3, seed=1), _tone(440.0, 1.3)])
    batch = audio.LogMel()(torch.from_numpy(waves))
    assert batch.shape == (2, waves.shape[1] // 160 + 1, 80)
    for i in range(2):
        ref = audio.extract("mel", waves[i], SR).values
        np.testing.assert_allclose(batch[i].numpy(), ref, atol=1e-4)


def test_mel_chunked_equals_one_pass() -> None:
    wave = _speechlike(3.0)
    one = audio.extract("mel", wave, SR).values
    chunked = audio.extract("mel", wave, SR, chunk_seconds=0.37).values
    np.testing.assert_allclose(chunked, one, atol=1e-4)


def test_resampled_44k_matches_16k() -> None:
    seconds = 2.5
    w16 = _tone(440.0, seconds, SR)
    w44 = _tone(440.0, seconds, 44100)
    m16 = audio.extract("mel", w16, SR).values
    m44 = audio.extract("mel", w44, 44100).values
    assert m44.shape == m16.shape
    assert audio.num_feature_frames("mel", w44.size, 44100) == m44.shape[0]
    # the tone's bins agree after resampling (inner frames; the filter's edge transient differs)
    np.testing.assert_allclose(m44[5:-5, :30], m16[5:-5, :30], atol=0.05)
    cfg = dict(audio.SIZE_PRESETS["tiny"])
    e16 = audio.extract("wav2vec2", w16, SR, config=cfg)
    e44 = audio.extract("wav2vec2", w44, 44100, config=cfg)
    assert e44.values.shape == e16.values.shape == (audio.encoder_num_frames(w16.size), 32)


def test_bad_input_and_unknown_extractor() -> None:
    with pytest.raises(audio.AudioError, match="unknown audio extractor 'mfcc'"):
        audio.extract("mfcc", np.zeros(SR, np.float32), SR)
    with pytest.raises(audio.AudioError, match="NaN"):
        audio.extract("mel", np.full(SR, np.nan, np.float32), SR)
    assert audio.available_extractors() == ("mel", "wav2vec2", "hubert")


# ---------------------------------------------------------------- wav2vec2 / HuBERT


def _save_tiny(name: str, folder: Path, with_preprocessor: bool) -> torch.nn.Module:
    from transformers import HubertModel, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(3)
    cls = Wav2Vec2Model if name == "wav2vec2" else HubertModel
    model = cls(audio.preset_config(name, "tiny")).eval()
    model.save_pretrained(folder)
    if with_preprocessor:
        Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(folder)
    return model


@pytest.mark.parametrize("name", ["wav2vec2", "hubert"])
def test_encoder_loaded_from_folder(name: str, tmp_path: Path) -> None:
    from transformers import Wav2Vec2FeatureExtractor

    folder = tmp_path / f"tiny-{name}"
    model = _save_tiny(name, folder, with_preprocessor=name == "hubert")
    seconds = 2.0
    wave = _speechlike(seconds, seed=2)
    feats = audio.extract(name, wave, SR, model=str(folder))
    assert feats.extractor == name and feats.model_id == str(folder)
    assert feats.rate_hz == 50.0
    assert feats.values.dtype == np.float32
    assert feats.values.shape == (audio.encoder_num_frames(wave.size), 32)
    assert abs(feats.num_frames - 50 * seconds) <= 1
    # same numbers as the saved model run on Wav2Vec2FeatureExtractor-normalised input
    inputs = Wav2Vec2FeatureExtractor(do_normalize=True)(wave, sampling_rate=SR, return_tensors="pt").input_values
    with torch.inference_mode():
        ref = model(inputs).last_hidden_state[0].numpy()
    np.testing.assert_allclose(feats.values, ref, atol=1e-4)


@pytest.mark.parametrize("n", [0, 399, 400, 719, 720, 16000, 3 * 16000 + 123])
def test_encoder_frame_count_helper(n: int) -> None:
    wave = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    feats = audio.extract("hubert", wave, SR, random_init=True, size="tiny")
    expected = 0 if n < 400 else (n - 400) // 320 + 1
    assert feats.values.shape == (expected, 32)
    assert audio.num_feature_frames("hubert", n) == expected == audio.encoder_num_frames(n)


@pytest.mark.parametrize("name", ["wav2vec2", "hubert"])
def test_chunked_encoder_matches_one_pass(name: str) -> None:
    wave = _speechlike(12.0, seed=4)
    cfg = dict(audio.SIZE_PRESETS["tiny"])  # feat_extract_norm="group": per-utterance statistics matter
    one = audio.extract(name, wave, SR, config=cfg, chunk_seconds=0).values
    chunked = audio.extract(name, wave, SR, config=cfg, chunk_seconds=4.0, context_seconds=1.0).values
    no_context = audio.extract(name, wave, SR, config=cfg, chunk_seconds=4.0, context_seconds=0.0).values
    assert chunked.shape == one.shape == no_context.shape
    scale = np.abs(one).max()
    err = np.abs(chunked - one).max() / scale
    assert err < 2e-3, f"chunked {name} differs from one pass by {err:.2e} (relative)"
    # the discarded context is what makes the joins match
    assert np.abs(no_context - one).max() / scale > 10 * err


def test_random_init_is_deterministic() -> None:
    wave = _speechlike(1.0)
    a = audio.extract("wav2vec2", wave, SR, random_init=True, size="tiny", chunk_seconds=0).values
    audio.clear_encoder_cache()
    b = audio.extract("wav2vec2", wave, SR, random_init=True, size="tiny", chunk_seconds=0).values
    np.testing.assert_array_equal(a, b)
    assert audio.extract("wav2vec2", wave, SR, random_init=True, size="tiny").model_id == "random:tiny"


def test_missing_model_offline_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model_id = "talkzoo-tests/no-such-wav2vec2"
    with pytest.raises(audio.AudioModelUnavailable) as info:
        audio.extract("wav2vec2", _speechlike(1.0), SR, model=model_id)
    message = str(info.value)
    assert isinstance(info.value, UserError)
    assert "\n" not in message
    assert model_id in message and "huggingface-cli download" in message and "--audio-model" in message


def test_bad_model_folder(tmp_path: Path) -> None:
    with pytest.raises(audio.AudioModelUnavailable, match="no config.json"):
        audio.extract("hubert", _speechlike(1.0), SR, model=str(tmp_path))
    folder = tmp_path / "tiny-hubert"
    _save_tiny("hubert", folder, with_preprocessor=False)
    with pytest.raises(audio.AudioError, match="is a hubert model, not wav2vec2"):
        audio.extract("wav2vec2", _speechlike(1.0), SR, model=str(folder))
    with pytest.raises(audio.AudioError, match="takes no model"):
        audio.extract("mel", _speechlike(1.0), SR, model=str(folder))

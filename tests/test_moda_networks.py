"""MODA networks (talkzoo.zoo.moda): shapes, masks, causality, sampling, batch size 1, any sequence length."""

from __future__ import annotations

import pytest
import torch

from talkzoo.zoo.moda import (
    PART_SHAPES,
    DualAttention,
    MelConvEncoder,
    MotionTails,
    ProbAttn,
    RecurrentBody,
    SpecAttn,
    SubjectEncoder,
    smooth_time,
)
from talkzoo.zoo.moda.positional import alignment_mask, biased_causal_mask, periodic_encoding
from talkzoo.zoo.moda.prob_attn import gaussian_kl

torch.set_num_threads(1)
D = 16


def test_alignment_mask_lets_frame_i_see_only_audio_frame_i() -> None:
    mask = alignment_mask(5)
    assert mask.dtype == torch.bool
    assert not mask.diagonal().any()
    assert mask.sum() == 5 * 4


def test_biased_causal_mask_blocks_the_future_and_steps_the_bias_every_period() -> None:
    m = biased_causal_mask(8, period=3, slope=0.5)
    assert torch.isinf(m.triu(1)[m.triu(1) != 0]).all() and (m.triu(1)[m.triu(1) != 0] < 0).all()
    assert m[0, 0] == 0 and m[2, 0] == 0  # same period
    assert m[3, 0] == -0.5 and m[6, 0] == -1.0 and m[7, 1] == -1.0


def test_periodic_encoding_repeats_with_the_period() -> None:
    pe = periodic_encoding(60, D, period=25)
    assert torch.equal(pe[0], pe[25]) and torch.equal(pe[7], pe[57])
    assert not torch.equal(pe[0], pe[1])


def test_spec_attn_is_causal_in_the_audio() -> None:
    net = SpecAttn(D, heads=2, layers=2, ffn=32, dropout=0.0, period=5).eval()
    audio, subject = torch.randn(2, 20, D), torch.randn(2, D)
    changed = audio.clone()
    changed[:, 12:] += 3.0
    with torch.no_grad():
        a, b = net(audio, subject), net(changed, subject)
    assert torch.allclose(a[:, :12], b[:, :12], atol=1e-5), "frames before 12 must not see audio from frame 12 on"
    assert not torch.allclose(a[:, 12:], b[:, 12:], atol=1e-3)


def test_prob_attn_sampling_is_seedable_and_temperature_zero_is_deterministic() -> None:
    net = ProbAttn(D, heads=2, layers=1, ffn=32, dropout=0.0).eval()
    audio, subject = torch.randn(1, 10, D), torch.randn(1, D)
    with torch.no_grad():
        s1 = net(audio, subject, 1.0, torch.Generator().manual_seed(3))[0]
        s2 = net(audio, subject, 1.0, torch.Generator().manual_seed(3))[0]
        s3 = net(audio, subject, 1.0, torch.Generator().manual_seed(4))[0]
        m1, m2 = net(audio, subject, 0.0)[0], net(audio, subject, 0.0)[0]
    assert torch.equal(s1, s2) and not torch.allclose(s1, s3)
    assert torch.equal(m1, m2)


def test_prob_attn_positional_encoding_runs_along_time_not_batch() -> None:
    # Identical frames must still differ after the encoder (MODA added the PE along the batch axis:
    # docs/moda.md, "Fixes" #8).
    net = ProbAttn(D, heads=2, layers=1, ffn=32, dropout=0.0).eval()
    audio = torch.zeros(1, 6, D)
    with torch.no_grad():
        out = net(audio, torch.zeros(1, D), 0.0)[0]
    assert not torch.allclose(out[0, 0], out[0, 3], atol=1e-4)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere() -> None:
    zeros = torch.zeros(3, 4)
    assert torch.allclose(gaussian_kl(zeros, zeros), zeros)
    assert (gaussian_kl(torch.ones(3, 4), zeros) > 0).all()
    assert torch.allclose(gaussian_kl(torch.ones(2), zeros[0, :2], torch.ones(2), zeros[0, :2]), torch.zeros(2))


def test_conditional_prob_attn_returns_the_posterior_kl_in_training() -> None:
    net = ProbAttn(D, heads=2, layers=1, ffn=32, dropout=0.0, motion_dim=5)
    out, mu, logvar, kl = net(torch.randn(2, 7, D), torch.randn(2, D), motion=torch.randn(2, 7, 5))
    assert out.shape == (2, 7, D) and mu.shape == logvar.shape == (2, 7, D) and kl.shape == (2, 7)
    assert (kl >= -1e-6).all()


@pytest.mark.parametrize("body_cls", [DualAttention, RecurrentBody])
@pytest.mark.parametrize("length", [1, 7, 33])
def test_bodies_work_at_batch_size_one_in_training_and_any_length(body_cls: type, length: int) -> None:
    body = body_cls(hidden=D, layers=1).train()
    out = body(torch.randn(1, length, D), torch.randn(1, D))
    assert out.features.shape == (1, length, 2 * D)
    out.features.sum().backward()


def test_recurrent_body_is_deterministic_and_dual_attention_is_not() -> None:
    audio, subject = torch.randn(1, 12, D), torch.randn(1, D)
    lstm, dual = RecurrentBody(D, layers=1).eval(), DualAttention(D, heads=2, layers=1).eval()
    with torch.no_grad():
        assert torch.equal(lstm(audio, subject).features, lstm(audio, subject).features)
        assert lstm(audio, subject).kl is None
        assert not torch.allclose(dual(audio, subject).features, dual(audio, subject).features)


def test_encoders_and_tails_shapes() -> None:
    enc = MelConvEncoder(80, D, layers=2)
    x_a = enc(torch.randn(3, 9, 80))
    x_s = SubjectEncoder(hidden=D)(torch.randn(3, 478, 3))
    parts = MotionTails(2 * D, 32, 16)(torch.randn(3, 9, 2 * D))
    assert x_a.shape == (3, 9, D) and x_s.shape == (3, D)
    assert {k: tuple(v.shape) for k, v in parts.items()} == {k: (3, 9, *s) for k, s in PART_SHAPES.items()}
    with pytest.raises(ValueError, match="80-d"):
        enc(torch.randn(1, 9, 40))


def test_mel_encoder_context_is_local() -> None:
    enc = MelConvEncoder(80, D, layers=2, kernel=3, dropout=0.0).eval()  # receptive field 1 + 2·3 = 7 frames
    x = torch.randn(1, 30, 80)
    y = x.clone()
    y[:, 20] += 5.0
    with torch.no_grad():
        a, b = enc(x), enc(y)
    assert torch.allclose(a[:, :16], b[:, :16], atol=1e-5) and not torch.allclose(a[:, 17:24], b[:, 17:24])


def test_wav2vec_encoder_interpolates_to_frames() -> None:
    from talkzoo.zoo.moda import Wav2VecEncoder

    enc = Wav2VecEncoder(random_init=True, size="tiny", hidden=D)
    out = enc(torch.randn(2, 16000), num_frames=25)
    assert out.shape == (2, 25, D)
    frozen = [p.requires_grad for p in enc.model.feature_extractor.parameters()]
    assert frozen and not any(frozen), "the conv feature encoder is frozen"


@pytest.mark.parametrize(("resample", "positions"), [("features", 25), ("output", 49)])
def test_wav2vec_encoder_transformer_runs_at_the_frame_rate_like_the_original(resample: str, positions: int) -> None:
    """MODA / FaceFormer resample the conv features to the video frames before the transformer ("features", the
    default); "output" runs the transformer at wav2vec2's 50 Hz and resamples its output."""
    from talkzoo.zoo.moda import Wav2VecEncoder

    enc = Wav2VecEncoder(random_init=True, size="tiny", hidden=D, resample=resample).eval()
    seen: list[int] = []
    enc.model.encoder.register_forward_hook(lambda _m, args, _out: seen.append(args[0].shape[1]))
    assert enc(torch.randn(1, 16000), num_frames=25).shape == (1, 25, D)
    assert seen == [positions]


def test_smoothing_keeps_constants_and_reduces_noise() -> None:
    const = torch.ones(20, 3)
    assert torch.allclose(smooth_time(const, 2.0), const)
    noise = torch.randn(200, 4, generator=torch.Generator().manual_seed(0))
    assert smooth_time(noise, 2.0).std() < 0.5 * noise.std()
    assert torch.equal(smooth_time(noise, 0.0), noise)


def test_aligned_cross_attention_equals_attention_under_the_alignment_mask() -> None:
    from talkzoo.zoo.moda.positional import alignment_mask
    from talkzoo.zoo.moda.spec_attn import AlignedDecoderLayer

    torch.manual_seed(0)
    layer = AlignedDecoderLayer(D, 2, 32, 0.0).eval()
    mha = torch.nn.MultiheadAttention(D, 2, batch_first=True).eval()
    with torch.no_grad():  # give the reference attention the layer's value / output maps
        mha.in_proj_weight[2 * D :] = layer.cross_value.weight
        mha.in_proj_bias[2 * D :] = layer.cross_value.bias
        mha.out_proj.weight.copy_(layer.cross_out.weight)
        mha.out_proj.bias.copy_(layer.cross_out.bias)
        x, memory = torch.randn(2, 9, D), torch.randn(2, 9, D)
        reference = mha(x, memory, memory, attn_mask=alignment_mask(9))[0]
        assert torch.allclose(layer.cross_out(layer.cross_value(memory)), reference, atol=1e-5)

"""MODA networks (plain torch): audio encoders, subject encoder, SpecAttn, ProbAttn, DualAttention, the LSTM
baseline body, the four motion tails and temporal smoothing. moda.md §3, with the fixes of §8.

A temporal body maps (x_a [B, T, d], x_s [B, d]) to a `BodyOutput` (features [B, T, out_dim], mu, logvar);
`DualAttention` and `RecurrentBody` are interchangeable through the `MODA` LightningModule's `body` argument.
"""

from zoo.moda.audio_encoders import MelConvEncoder, Wav2VecEncoder
from zoo.moda.body import BodyOutput
from zoo.moda.dual_attention import DualAttention
from zoo.moda.prob_attn import ProbAttn
from zoo.moda.recurrent import RecurrentBody
from zoo.moda.smoothing import smooth_time
from zoo.moda.spec_attn import SpecAttn
from zoo.moda.subject_encoder import SubjectEncoder
from zoo.moda.tails import PART_SHAPES, MotionTails

__all__ = [
    "PART_SHAPES",
    "BodyOutput",
    "DualAttention",
    "MelConvEncoder",
    "MotionTails",
    "ProbAttn",
    "RecurrentBody",
    "SpecAttn",
    "SubjectEncoder",
    "Wav2VecEncoder",
    "smooth_time",
]

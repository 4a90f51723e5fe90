"""MODA networks (plain torch): audio encoders, subject encoder, SpecAttn, ProbAttn, DualAttention, the LSTM
baseline body, the four motion tails and temporal smoothing (docs/moda.md, "Network shapes" and "Fixes").

A temporal body maps (x_a [B, T, d], x_s [B, d]) to a `BodyOutput` (features [B, T, out_dim], mu, logvar);
`DualAttention` and `RecurrentBody` are interchangeable through the `MODA` LightningModule's `body` argument.
"""

from talkzoo.zoo.moda.audio_encoders import MelConvEncoder, Wav2VecEncoder
from talkzoo.zoo.moda.body import BodyOutput, MotionBody
from talkzoo.zoo.moda.dual_attention import DualAttention
from talkzoo.zoo.moda.prob_attn import ProbAttn
from talkzoo.zoo.moda.recurrent import RecurrentBody
from talkzoo.zoo.moda.smoothing import smooth_time
from talkzoo.zoo.moda.spec_attn import SpecAttn
from talkzoo.zoo.moda.subject_encoder import SubjectEncoder
from talkzoo.zoo.moda.tails import PART_SHAPES, MotionTails

__all__ = [
    "PART_SHAPES",
    "BodyOutput",
    "DualAttention",
    "MelConvEncoder",
    "MotionBody",
    "MotionTails",
    "ProbAttn",
    "RecurrentBody",
    "SpecAttn",
    "SubjectEncoder",
    "Wav2VecEncoder",
    "smooth_time",
]

"""Audio features of the speaker: mel always; wav2vec2 / HuBERT when their weights are available offline."""

from __future__ import annotations

import numpy as np

from talkzoo.datamodules.speaker import SpeakerWriter
from talkzoo.zoo.audio import AudioModelUnavailable, extract


def extract_features(
    writer: SpeakerWriter, wave: np.ndarray, names: tuple[str, ...], models: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Write features/NAME.npy + NAME.json for each name; returns (written, notes about skipped extractors).

    wave: float32 [N] mono at writer.meta.sample_rate. An encoder without local weights (AudioModelUnavailable)
    is skipped with a note, so the speaker stays complete with the offline mel features.
    """
    written, notes = [], []
    for name in names:
        try:
            feats = extract(name, wave, writer.meta.sample_rate, model=models.get(name) or None)
        except AudioModelUnavailable as exc:
            notes.append(f"feature {name} skipped: {exc}")
            continue
        writer.write_feature(name, feats.values, feats.rate_hz, feats.extractor, feats.model_id)
        written.append(name)
    return written, notes

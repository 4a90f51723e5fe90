"""Default model ids and in-memory configs (size presets) of the wav2vec2 / HuBERT encoders.

Presets let tests and benchmarks build randomly initialised encoders of the real shapes without any weights.
"""

from __future__ import annotations

from typing import Any

from transformers import HubertConfig, PretrainedConfig, Wav2Vec2Config

from talkzoo.zoo.audio.types import AudioError

DEFAULT_MODELS: dict[str, str] = {
    "wav2vec2": "facebook/wav2vec2-base-960h",  # MODA
    "hubert": "facebook/hubert-large-ls960-ft",  # ER-NeRF
}
"""The pretrained encoder each method used."""

MODEL_TYPES: dict[str, str] = {"wav2vec2": "wav2vec2", "hubert": "hubert"}
"""The `config.model_type` each extractor name accepts."""

SIZE_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    ),
    "base": dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, conv_dim=(512,) * 7
    ),
    "large": dict(
        hidden_size=1024,
        num_hidden_layers=24,
        num_attention_heads=16,
        intermediate_size=4096,
        conv_dim=(512,) * 7,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        conv_bias=True,
    ),
}
"""tiny: 43 k parameters (unit tests); base: wav2vec2-base-960h's shape (94 M); large: hubert-large's (316 M)."""


def preset_config(name: str, size: str = "base", **overrides: Any) -> PretrainedConfig:
    """A Wav2Vec2Config or HubertConfig for extractor `name` of preset `size` ("tiny", "base", "large")."""
    if size not in SIZE_PRESETS:
        raise AudioError(f"unknown encoder size '{size}': choose one of {', '.join(SIZE_PRESETS)}")
    return config_from(name, {**SIZE_PRESETS[size], **overrides})


def config_from(name: str, config: PretrainedConfig | dict[str, Any]) -> PretrainedConfig:
    """Turn a config dict (or pass a config object through) into the config class of extractor `name`."""
    if isinstance(config, PretrainedConfig):
        return config
    if name == "wav2vec2":
        return Wav2Vec2Config(**config)
    if name == "hubert":
        return HubertConfig(**config)
    raise AudioError(f"'{name}' has no encoder config: choose wav2vec2 or hubert")

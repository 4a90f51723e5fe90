"""Build wav2vec2 / HuBERT encoders: pretrained through `from_pretrained` (hub cache or local folder), or random.

The hub is unreachable on this project's machines, so a missing model ends in `AudioModelUnavailable` with one line
naming the model id and the fix, never in a transformers traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, HubertModel, PretrainedConfig, Wav2Vec2FeatureExtractor, Wav2Vec2Model

from talkzoo.zoo.audio.presets import DEFAULT_MODELS, MODEL_TYPES, config_from, preset_config
from talkzoo.zoo.audio.types import AudioError, AudioModelUnavailable

_MODEL_CLASSES = {"wav2vec2": Wav2Vec2Model, "hubert": HubertModel}
_CACHE: dict[tuple[Any, ...], Encoder] = {}
_CACHE_SIZE = 2


@dataclass
class Encoder:
    """A ready-to-run audio encoder.

    model: Wav2Vec2Model / HubertModel in eval mode; waveform [B, N] -> last_hidden_state [B, F, hidden].
    normalize: whether inputs are normalised to zero mean / unit variance first (Wav2Vec2FeatureExtractor).
    """

    name: str
    model_id: str
    model: torch.nn.Module
    normalize: bool

    @property
    def hidden_size(self) -> int:
        """The feature size D."""
        return int(self.model.config.hidden_size)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", ".", "~")) or Path(model).expanduser().exists() or model.count("/") > 1


def _unavailable(name: str, model: str, why: str) -> AudioModelUnavailable:
    return AudioModelUnavailable(
        f"{name} weights '{model}' {why}: download them once with `huggingface-cli download {model}` on a connected "
        f"machine (they go to the Hugging Face cache), or pass a local folder with --audio-model PATH"
    )


def _load_config(name: str, model: str) -> PretrainedConfig:
    """Read the model's config from a folder, the hub cache, or (when online) the hub."""
    if _looks_like_path(model):
        folder = Path(model).expanduser()
        if not (folder / "config.json").is_file():
            raise AudioModelUnavailable(
                f"{name} model folder '{model}' has no config.json: pass a folder written by save_pretrained "
                f"(config.json + weights) or a Hugging Face model id"
            )
        return AutoConfig.from_pretrained(str(folder))
    try:
        return AutoConfig.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError):
        pass
    if _offline():
        raise _unavailable(name, model, "are not in the local Hugging Face cache and the hub is offline")
    try:
        return AutoConfig.from_pretrained(model)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _unavailable(name, model, f"could not be loaded ({first[:160]})") from None


def _load_pretrained(name: str, model: str) -> Encoder:
    config = _load_config(name, model)
    if config.model_type != MODEL_TYPES[name]:
        raise AudioError(
            f"model '{model}' is a {config.model_type} model, not {name}: pass a {name} model or pick the "
            f"'{config.model_type}' extractor"
        )
    source = str(Path(model).expanduser()) if _looks_like_path(model) else model
    try:
        net = _MODEL_CLASSES[name].from_pretrained(source, local_files_only=_offline() or source != model)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _unavailable(name, model, f"could not be loaded ({first[:160]})") from None
    try:
        fe = Wav2Vec2FeatureExtractor.from_pretrained(source, local_files_only=True)
        normalize = bool(fe.do_normalize)
    except (OSError, ValueError):
        normalize = True  # both default models normalise; a folder without preprocessor_config.json gets the default
    return Encoder(name=name, model_id=model, model=net.eval(), normalize=normalize)


def _build_random(name: str, config: PretrainedConfig | dict[str, Any] | None, size: str, seed: int) -> Encoder:
    cfg = config_from(name, config) if config is not None else preset_config(name, size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _MODEL_CLASSES[name](cfg)
    model_id = f"random:{size}" if config is None else "random:config"
    return Encoder(name=name, model_id=model_id, model=net.eval(), normalize=True)


def build_encoder(
    name: str,
    model: str | None = None,
    *,
    config: PretrainedConfig | dict[str, Any] | None = None,
    random_init: bool = False,
    size: str = "base",
    seed: int = 0,
    device: str = "cpu",
    cache: bool = True,
) -> Encoder:
    """A wav2vec2 / HuBERT encoder on `device`, in eval mode.

    Pretrained (default): `model` is a Hugging Face id (looked up in the local cache; downloaded only when the hub is
    reachable and HF_HUB_OFFLINE is unset) or a folder written by `save_pretrained`; None means the method's default
    (DEFAULT_MODELS). Random weights (no files at all): pass `config` (a dict or a Wav2Vec2Config / HubertConfig) or
    `random_init=True` with a `size` preset ("tiny", "base", "large"), initialised from `seed`.
    The last two encoders built are cached (`cache=False` to skip).
    """
    if name not in _MODEL_CLASSES:
        raise AudioError(f"'{name}' is not a neural audio encoder: choose wav2vec2 or hubert")
    randomised = random_init or config is not None
    if randomised and model:
        raise AudioError("pass either a pretrained model or random_init / config, not both")
    key = (name, model or DEFAULT_MODELS[name], randomised, size, seed, str(device)) if config is None else None
    if cache and key is not None and key in _CACHE:
        return _CACHE[key]
    if randomised:
        encoder = _build_random(name, config, size, seed)
    else:
        encoder = _load_pretrained(name, model or DEFAULT_MODELS[name])
    encoder.model.to(device)
    if cache and key is not None:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = encoder
    return encoder


def clear_encoder_cache() -> None:
    """Forget the cached encoders (frees their memory)."""
    _CACHE.clear()

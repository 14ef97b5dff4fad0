"""MED's shape (:class:`MedConfig`, presets), its decoding cache and its outputs."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

KV = tuple[torch.Tensor, torch.Tensor]


@dataclass
class MedConfig:
    """Shape of the text transformer (BERT-base by default; see :data:`MED_PRESETS`)."""

    vocab_size: int = 30524
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    encoder_width: int = 768
    add_cross_attention: bool = True
    num_cross_images: int = 1
    nlvr_merge_layer: int = 6
    pad_token_id: int = 0


MED_PRESETS: dict[str, dict] = {
    "tiny": {"hidden_size": 128, "num_layers": 4, "num_heads": 4, "intermediate_size": 512},
    "base": {},
}


def med_config(size: str, **overrides: object) -> MedConfig:
    """A :class:`MedConfig` preset (``tiny``/``base``) with overrides.

    Raises:
        ValueError: for an unknown preset.
    """
    if size not in MED_PRESETS:
        raise ValueError(f"Unknown MED size {size!r} (model.med); choose one of {', '.join(MED_PRESETS)}.")
    return MedConfig(**{**MED_PRESETS[size], **overrides})


@dataclass
class MedCache:
    """Decoding cache: self-attention K/V grow per step; cross-attention K/V are computed once per image.

    Cross-attention entries keep the image batch size, so ``B * group`` decoding rows (beams, samples)
    share one image's keys without copies (see :meth:`MultiHeadAttention.forward`).
    """

    self_kv: list[KV | None] = field(default_factory=list)
    cross_kv: list[KV | None] = field(default_factory=list)
    length: int = 0

    def reorder(self, index: torch.Tensor) -> None:
        """Select decoding rows (beam reordering); cross-attention K/V are per image and stay."""
        self.self_kv = [None if kv is None else (kv[0][index], kv[1][index]) for kv in self.self_kv]


@dataclass
class MedOutput:
    last_hidden_state: torch.Tensor
    past_key_values: MedCache | None = None


@dataclass
class MedLMOutput:
    loss: torch.Tensor | None
    logits: torch.Tensor | None  # None when the forward was asked for the loss only
    past_key_values: MedCache | None = None

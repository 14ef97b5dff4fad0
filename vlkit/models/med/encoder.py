"""The MED layer stack: embeddings, layers (self-attention → cross-attention → FFN), the text model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.models.med.attention import (
    Attention,
    AttentionOutput,
    TwoImageCrossAttention,
)
from vlkit.models.med.config import KV, MedCache, MedConfig, MedOutput


class MedLayer(nn.Module):
    """Self-attention → (cross-attention, multimodal mode only) → feed-forward."""

    def __init__(self, cfg: MedConfig, index: int) -> None:
        super().__init__()
        self.attention = Attention(cfg, cfg.hidden_size)
        self.has_cross = cfg.add_cross_attention
        self.two_images = cfg.num_cross_images == 2
        if self.has_cross:
            if self.two_images:
                self.crossattention = TwoImageCrossAttention(cfg, merge=index >= cfg.nlvr_merge_layer)
            else:
                self.crossattention = Attention(cfg, cfg.encoder_width)
        # The feed-forward, in BERT's layout: ``intermediate.dense`` → GELU → ``output.{dense,LayerNorm}``.
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.output = AttentionOutput(cfg)
        self.output.dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def cross_kv(self, encoder_hidden_states: torch.Tensor | list[torch.Tensor]) -> KV | list[KV]:
        if self.two_images:
            return self.crossattention.project_kv(encoder_hidden_states)
        return self.crossattention.self.project_kv(encoder_hidden_states)

    def forward(
        self,
        hidden: torch.Tensor,
        self_mask: torch.Tensor | None,
        is_causal: bool,
        past_self_kv: KV | None,
        cross: KV | list[KV] | torch.Tensor | list[torch.Tensor] | None,
        cross_mask: torch.Tensor | list[torch.Tensor | None] | None,
        cross_index: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, KV, KV | list[KV] | None]:
        """``cross`` is the cached cross-attention K/V, or the image features to project (inside this forward,
        so a sharded layer's weights are gathered for it); returns the hidden states and both K/V.
        ``cross_index``: row ``r`` attends to image ``cross_index[r]`` (K/V projected once per image)."""
        if isinstance(cross, torch.Tensor) or (isinstance(cross, list) and isinstance(cross[0], torch.Tensor)):
            cross = self.cross_kv(cross)
            if cross_index is not None:
                cross = (cross[0].index_select(0, cross_index), cross[1].index_select(0, cross_index))
        k, v = self.attention.self.project_kv(hidden)
        if past_self_kv is not None:
            k, v = torch.cat([past_self_kv[0], k], dim=2), torch.cat([past_self_kv[1], v], dim=2)
        hidden = self.attention(hidden, (k, v), self_mask, is_causal)
        if cross is not None:
            hidden = self.crossattention(hidden, cross, cross_mask)
        hidden = self.output(F.gelu(self.intermediate.dense(hidden)), hidden)
        return hidden, (k, v), cross


class MedEmbeddings(nn.Module):
    """Word + absolute position embeddings → LayerNorm → dropout (no token-type embeddings)."""

    def __init__(self, cfg: MedConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)
        self.register_buffer("position_ids", torch.arange(cfg.max_position_embeddings).unsqueeze(0), persistent=True)

    def forward(self, input_ids: torch.Tensor, past_length: int = 0) -> torch.Tensor:
        positions = self.position_ids[:, past_length : past_length + input_ids.shape[1]]
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


def _padding_mask(attention_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """``[B, Lk]`` 1/0 → additive ``[B, 1, 1, Lk]`` (None when nothing is masked)."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


class MedTextModel(nn.Module):
    """The MED stack (``embeddings`` + ``encoder.layer``); BERT without a pooler."""

    def __init__(self, cfg: MedConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = MedEmbeddings(cfg)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(MedLayer(cfg, i) for i in range(cfg.num_layers))
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def _self_mask(
        self, attention_mask: torch.Tensor | None, lq: int, past: int, is_decoder: bool, dtype: torch.dtype
    ) -> tuple[torch.Tensor | None, bool]:
        pad = _padding_mask(attention_mask, dtype)
        if not is_decoder:
            return pad, False
        if pad is None and past == 0:
            return None, True  # plain causal: let SDPA use its fused path
        device = attention_mask.device if attention_mask is not None else self.embeddings.position_ids.device
        causal = torch.ones(lq, past + lq, dtype=torch.bool, device=device).tril(diagonal=past)
        mask = torch.zeros(lq, past + lq, dtype=dtype, device=device).masked_fill(~causal, torch.finfo(dtype).min)
        mask = mask[None, None]
        return (mask if pad is None else (mask + pad).clamp(min=torch.finfo(dtype).min)), False

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        encoder_hidden_states: torch.Tensor | list[torch.Tensor] | None = None,
        encoder_attention_mask: torch.Tensor | list[torch.Tensor] | None = None,
        mode: str = "multimodal",
        is_decoder: bool = False,
        past_key_values: MedCache | None = None,
        use_cache: bool = False,
        encoder_index: torch.Tensor | None = None,
    ) -> MedOutput:
        """Encode or decode ``input_ids`` ``[B, L]``.

        Args:
            attention_mask: ``[B, L_total]`` 1 for real tokens (``L_total`` includes cached steps).
            encoder_hidden_states: image features ``[B_img, N, D]`` (a list of two for NLVR²); ``B`` may
                be a multiple of ``B_img`` (rows grouped per image, e.g. beams).
            encoder_index: ``[B]``: row ``r`` attends to image ``encoder_index[r]`` of ``encoder_hidden_states``
                (one image, no mask), whose cross-attention keys and values are then projected once per image
                however many rows read them (retrieval re-ranking: each image is a candidate of many texts).
            mode: ``"text"`` skips cross-attention; ``"multimodal"`` uses it.
            is_decoder: causal self-attention.
            past_key_values / use_cache: incremental decoding.
        """
        if mode not in ("text", "multimodal"):
            raise ValueError(f"mode must be 'text' or 'multimodal', got {mode!r}")
        cache = past_key_values
        past = cache.length if cache is not None else 0
        hidden = self.embeddings(input_ids, past_length=past)
        dtype = hidden.dtype
        self_mask, is_causal = self._self_mask(attention_mask, input_ids.shape[1], past, is_decoder, dtype)

        use_cross = mode == "multimodal"
        if use_cross and encoder_hidden_states is None and not (cache is not None and cache.cross_kv):
            raise ValueError("multimodal mode needs encoder_hidden_states (image features)")
        if use_cross and not self.config.add_cross_attention:
            raise ValueError("this text model was built without cross-attention; use mode='text'")
        if encoder_index is not None and (
            isinstance(encoder_hidden_states, list) or encoder_attention_mask is not None
        ):
            raise ValueError("encoder_index takes one image per row and no encoder_attention_mask")
        if isinstance(encoder_attention_mask, list):
            cross_mask = [_padding_mask(m, dtype) for m in encoder_attention_mask]
        else:
            cross_mask = _padding_mask(encoder_attention_mask, dtype)

        new_cache = MedCache(length=past + input_ids.shape[1]) if use_cache else None
        for i, layer in enumerate(self.encoder.layer):
            cross = None
            if use_cross:
                cached = cache is not None and cache.cross_kv and cache.cross_kv[i] is not None
                cross = cache.cross_kv[i] if cached else encoder_hidden_states
            past_kv = cache.self_kv[i] if cache is not None and cache.self_kv else None
            hidden, kv, cross = layer(hidden, self_mask, is_causal, past_kv, cross, cross_mask, encoder_index)
            if new_cache is not None:
                new_cache.self_kv.append(kv)
                new_cache.cross_kv.append(cross)
        return MedOutput(last_hidden_state=hidden, past_key_values=new_cache)

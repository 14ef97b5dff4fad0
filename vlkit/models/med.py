"""MED: BLIP's multimodal mixture of encoder-decoder text transformer, written once.

One BERT-style layer stack serves as the unimodal text encoder (``mode="text"``: bidirectional
self-attention, no cross-attention), the image-grounded text encoder (``mode="multimodal"``) and the
image-grounded text decoder (``is_decoder=True``: causal self-attention + LM head). NLVR²'s two-image
cross-attention is the same layer with ``num_cross_images=2``. State-dict keys match the released
checkpoints (``embeddings.*``, ``encoder.layer.N.{attention,crossattention,intermediate,output}.*``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

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


class MultiHeadAttention(nn.Module):
    """Scaled-dot-product attention with BERT's ``query``/``key``/``value`` projections."""

    def __init__(self, hidden: int, num_heads: int, kv_width: int, dropout: float) -> None:
        super().__init__()
        if hidden % num_heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {num_heads} attention heads")
        self.num_heads, self.head_dim, self.dropout = num_heads, hidden // num_heads, dropout
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(kv_width, hidden)
        self.value = nn.Linear(kv_width, hidden)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

    def project_kv(self, states: torch.Tensor) -> KV:
        return self._split(self.key(states)), self._split(self.value(states))

    def forward(
        self, hidden: torch.Tensor, kv: KV, mask: torch.Tensor | None = None, is_causal: bool = False
    ) -> torch.Tensor:
        """Attend ``hidden`` to ``kv``; ``mask`` is additive/boolean, broadcastable to ``[B, 1, Lq, Lk]``.

        When ``kv`` has fewer rows than ``hidden`` (rows grouped per image), the group is folded into
        the query length so every row reads its image's keys without expanding them.
        """
        q = self._split(self.query(hidden))
        k, v = kv
        b, h, lq, d = q.shape
        group = b // k.shape[0]
        if group > 1:
            q = q.view(k.shape[0], group, h, lq, d).transpose(1, 2).reshape(k.shape[0], h, group * lq, d)
            if mask is not None and mask.shape[0] != k.shape[0]:
                raise ValueError("grouped cross-attention needs a per-image mask")
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal)
        if group > 1:
            out = out.view(k.shape[0], h, group, lq, d).transpose(1, 2).reshape(b, h, lq, d)
        return out.transpose(1, 2).reshape(b, lq, h * d)


class AttentionOutput(nn.Module):
    """Projection + dropout + residual LayerNorm after attention (``output.dense``, ``output.LayerNorm``)."""

    def __init__(self, cfg: MedConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)

    def forward(self, context: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(context)) + residual)


class Attention(nn.Module):
    """``self`` (the attention) + ``output``: the unit BERT calls ``attention`` / ``crossattention``."""

    def __init__(self, cfg: MedConfig, kv_width: int) -> None:
        super().__init__()
        self.self = MultiHeadAttention(cfg.hidden_size, cfg.num_heads, kv_width, cfg.attention_dropout)
        self.output = AttentionOutput(cfg)

    def forward(
        self, hidden: torch.Tensor, kv: KV, mask: torch.Tensor | None = None, is_causal: bool = False
    ) -> torch.Tensor:
        return self.output(self.self(hidden, kv, mask, is_causal), hidden)


class TwoImageAttentionOutput(nn.Module):
    """NLVR²: per-image projections ``dense0``/``dense1``, averaged (early layers) or merged by ``merge_layer``."""

    def __init__(self, cfg: MedConfig, merge: bool) -> None:
        super().__init__()
        h = cfg.hidden_size
        self.dense0, self.dense1 = nn.Linear(h, h), nn.Linear(h, h)
        self.merge = merge
        if merge:
            self.merge_layer = nn.Linear(2 * h, h)
        self.LayerNorm = nn.LayerNorm(h, eps=cfg.layer_norm_eps)
        self.dropout = nn.Dropout(cfg.hidden_dropout)

    def forward(self, contexts: list[torch.Tensor], residual: torch.Tensor) -> torch.Tensor:
        a, b = self.dense0(contexts[0]), self.dense1(contexts[1])
        merged = self.merge_layer(torch.cat([a, b], dim=-1)) if self.merge else (a + b) / 2
        return self.LayerNorm(self.dropout(merged) + residual)


class TwoImageCrossAttention(nn.Module):
    """NLVR²'s cross-attention: separate Q/K/V per image (``self0``, ``self1``) and a shared output block."""

    def __init__(self, cfg: MedConfig, merge: bool) -> None:
        super().__init__()
        self.self0 = MultiHeadAttention(cfg.hidden_size, cfg.num_heads, cfg.encoder_width, cfg.attention_dropout)
        self.self1 = MultiHeadAttention(cfg.hidden_size, cfg.num_heads, cfg.encoder_width, cfg.attention_dropout)
        self.output = TwoImageAttentionOutput(cfg, merge)

    def project_kv(self, states: list[torch.Tensor]) -> list[KV]:
        return [self.self0.project_kv(states[0]), self.self1.project_kv(states[1])]

    def forward(self, hidden: torch.Tensor, kv: list[KV], mask: list[torch.Tensor | None] | None) -> torch.Tensor:
        mask = mask if mask is not None else [None, None]
        contexts = [self.self0(hidden, kv[0], mask[0]), self.self1(hidden, kv[1], mask[1])]
        return self.output(contexts, hidden)


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
    ) -> tuple[torch.Tensor, KV, KV | list[KV] | None]:
        """``cross`` is the cached cross-attention K/V, or the image features to project (inside this forward,
        so a sharded layer's weights are gathered for it); returns the hidden states and both K/V."""
        if isinstance(cross, torch.Tensor) or (isinstance(cross, list) and isinstance(cross[0], torch.Tensor)):
            cross = self.cross_kv(cross)
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
    ) -> MedOutput:
        """Encode or decode ``input_ids`` ``[B, L]``.

        Args:
            attention_mask: ``[B, L_total]`` 1 for real tokens (``L_total`` includes cached steps).
            encoder_hidden_states: image features ``[B_img, N, D]`` (a list of two for NLVR²); ``B`` may
                be a multiple of ``B_img`` (rows grouped per image, e.g. beams).
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
            hidden, kv, cross = layer(hidden, self_mask, is_causal, past_kv, cross, cross_mask)
            if new_cache is not None:
                new_cache.self_kv.append(kv)
                new_cache.cross_kv.append(cross)
        return MedOutput(last_hidden_state=hidden, past_key_values=new_cache)


class LMPredictionHead(nn.Module):
    """``transform`` (dense → GELU → LayerNorm) → ``decoder`` (tied to the word embeddings) + ``bias``."""

    def __init__(self, cfg: MedConfig) -> None:
        super().__init__()
        self.transform = nn.Module()
        self.transform.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.transform.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size)
        self.bias = self.decoder.bias  # one Parameter under both names, as in BERT

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.transform.LayerNorm(F.gelu(self.transform.dense(hidden)))
        return self.decoder(x)


class MedForCausalLM(nn.Module):
    """The image-grounded text decoder: ``bert`` (a :class:`MedTextModel`) + ``cls.predictions``."""

    def __init__(self, cfg: MedConfig) -> None:
        super().__init__()
        self.config = cfg
        self.bert = MedTextModel(cfg)
        self.cls = nn.Module()
        self.cls.predictions = LMPredictionHead(cfg)
        nn.init.zeros_(self.cls.predictions.bias)
        nn.init.normal_(self.cls.predictions.transform.dense.weight, std=0.02)
        self.tie_weights()

    def tie_weights(self) -> None:
        """The output projection shares the input word embeddings (BERT's weight tying)."""
        self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
        past_key_values: MedCache | None = None,
        use_cache: bool = False,
        mode: str = "multimodal",
        loss_only: bool = False,
    ) -> MedLMOutput:
        """Causal LM over ``input_ids``; with ``labels`` (-100 = ignore) the next-token loss.

        ``reduction="none"`` returns each sequence's summed token loss ``[B]`` (VQA answer ranking/weighting).
        ``loss_only=True`` (training; needs ``labels`` and ``reduction="mean"``) runs the vocabulary projection
        only where a next token is scored, not on padding or a prompt, and returns no logits: the same loss for
        a fraction of the cost (the projection onto the 30,522-word vocabulary dominates a small decoder).
        """
        out = self.bert(
            input_ids,
            attention_mask,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            mode=mode,
            is_decoder=True,
            past_key_values=past_key_values,
            use_cache=use_cache,
        )
        if loss_only:
            if labels is None or reduction != "mean":
                raise ValueError("loss_only=True needs labels and reduction='mean'")
            scored = labels[:, 1:] != -100  # position t predicts token t+1
            picked = self.cls.predictions(out.last_hidden_state[:, :-1][scored])
            loss = F.cross_entropy(picked.float(), labels[:, 1:][scored], label_smoothing=label_smoothing)
            return MedLMOutput(loss=loss, logits=None, past_key_values=out.past_key_values)
        logits = self.cls.predictions(out.last_hidden_state)
        loss = None
        if labels is not None:
            loss = lm_loss(logits, labels, label_smoothing, reduction)
        return MedLMOutput(loss=loss, logits=logits, past_key_values=out.past_key_values)


def lm_loss(
    logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0, reduction: str = "mean"
) -> torch.Tensor:
    """Next-token cross-entropy: logits at position t predict labels at t+1; -100 is ignored."""
    shifted = logits[:, :-1].contiguous()
    targets = labels[:, 1:].contiguous()
    loss = F.cross_entropy(
        shifted.view(-1, shifted.shape[-1]).float(),
        targets.view(-1),
        ignore_index=-100,
        label_smoothing=label_smoothing,
        reduction="none" if reduction == "none" else reduction,
    )
    if reduction == "none":
        loss = loss.view(targets.shape).sum(dim=1)
    return loss


SHARE_STRATEGIES = ("all_but_self_attention", "all", "none")


def tie_text_weights(encoder: MedTextModel, decoder: MedTextModel, strategy: str = "all_but_self_attention") -> None:
    """Make ``decoder`` share ``encoder``'s parameters (BLIP Table 3).

    ``all_but_self_attention`` (the paper's choice) shares embeddings, cross-attention and feed-forward and
    keeps each side's self-attention (``attention.*``); ``all`` shares everything; ``none`` shares nothing.
    Shared parameters are the same ``Parameter`` objects, so both key sets remain in the state dict.
    """
    if strategy not in SHARE_STRATEGIES:
        raise ValueError(f"share strategy {strategy!r} not in {SHARE_STRATEGIES} (model.share_strategy)")
    if strategy == "none":
        return
    decoder.embeddings = encoder.embeddings
    for enc_layer, dec_layer in zip(encoder.encoder.layer, decoder.encoder.layer, strict=True):
        for name in ("crossattention", "intermediate", "output") + (("attention",) if strategy == "all" else ()):
            if hasattr(enc_layer, name):
                setattr(dec_layer, name, getattr(enc_layer, name))

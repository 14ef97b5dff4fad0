"""MED's attention blocks: self/cross multi-head attention with BERT's keys, and NLVR²'s two-image variant."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.models.med.config import KV, MedConfig


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

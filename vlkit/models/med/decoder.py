"""The image-grounded text decoder: MED with a causal mask and the LM head; the LM loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.models.med.config import MedCache, MedConfig, MedLMOutput
from vlkit.models.med.encoder import MedTextModel


class LMPredictionHead(nn.Module):
    """``transform`` (dense → GELU → LayerNorm) → ``decoder`` (its owner ties it to the word embeddings) + ``bias``."""

    def __init__(self, cfg: MedConfig) -> None:
        super().__init__()
        self.transform = nn.Module()
        self.transform.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.transform.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size)
        self.bias = self.decoder.bias  # one Parameter under both names, as in BERT
        nn.init.zeros_(self.bias)
        nn.init.normal_(self.transform.dense.weight, std=0.02)

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

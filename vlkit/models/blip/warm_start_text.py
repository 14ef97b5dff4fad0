"""The text half of the tiny encoders' warm start: BLIP's text encoder learns BERT's MLM and a sentence objective.

The miniature of BERT's start: masked-language modelling (:func:`mask_tokens`) through MED's LM head
(``cls.predictions``, its decoder tied to the encoder's word embeddings as in BERT), and, as sentence
encoders are, an in-batch contrastive loss that places the [CLS] features of two human-style captions of
one scene close together (``paraphrase_weight``). MLM alone, at this budget, leaves [CLS] blind to content
words ("red circle" and "blue circle": cosine 1.00), and ITC then sits on its plateau for hundreds of
updates (docs/reproduction.md). ``text_encoder.*`` and ``cls.*`` outlive the warm start
(:func:`vlkit.models.blip.warm_start.warm_state_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.common.registry import registry
from vlkit.models.base_model import BaseModel
from vlkit.models.blip.base import TextInputMixin
from vlkit.models.blip.config import BlipWarmStartConfig, check_blip_config
from vlkit.models.examples import ExampleBatch, example_texts
from vlkit.models.med import LMPredictionHead, MedTextModel, med_config
from vlkit.models.outputs import ModelOutput
from vlkit.models.tokenizer import blip_tokenizer

RANDOM_TOKENS_FROM = 1000  # BERT's vocabulary: the ids below are [PAD], [unused*] and the other special tokens


def mask_tokens(
    ids: torch.Tensor,
    atts: torch.Tensor,
    tokenizer: Any,
    generator: torch.Generator | None = None,
    probability: float = 0.15,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: ``probability`` of the real tokens; 80 % of those → [MASK], 10 % → a random token, 10 % kept.

    Returns the corrupted ids and the labels (the original id where chosen, -100 elsewhere). [CLS], [SEP] and
    padding are never chosen. ``generator`` (CPU) makes the draw reproducible; None uses torch's global RNG.
    """
    special = torch.tensor([tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id])
    candidates = atts.bool() & ~torch.isin(ids, special.to(ids.device))
    chosen = candidates & (torch.rand(ids.shape, generator=generator) < probability).to(ids.device)
    labels = ids.masked_fill(~chosen, -100)
    roll = torch.rand(ids.shape, generator=generator).to(ids.device)
    ids = ids.clone()
    ids[chosen & (roll < 0.8)] = tokenizer.mask_token_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(RANDOM_TOKENS_FROM, tokenizer.vocab_size - 2, (int(swap.sum()),), generator=generator)
    ids[swap] = random_ids.to(ids.device)
    return ids, labels


def paraphrase_contrastive_loss(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric in-batch InfoNCE between row-aligned, normalised features ``a`` and ``b`` ``[N, D]``."""
    sim = a @ b.T / temperature
    target = torch.arange(len(a), device=sim.device)
    return (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target)) / 2


@dataclass
class WarmStartTextOutput(ModelOutput):
    """The loss and its terms, plus what held-out metrics need: MLM hits and the pairs' [CLS] features."""

    loss_mlm: torch.Tensor | None = None
    loss_paraphrase: torch.Tensor | None = None
    mlm_correct: torch.Tensor | None = None  # masked tokens predicted right
    mlm_scored: torch.Tensor | None = None  # masked tokens scored
    cls_a: torch.Tensor | None = None  # normalised [CLS] of each scene's first human-style caption (masked input)
    cls_b: torch.Tensor | None = None  # ... and of another one


@registry.register_model("blip_warm_start_text")
class BlipWarmStartText(TextInputMixin, BaseModel):
    """``text_encoder`` (a MED stack without cross-attention) + ``cls.predictions`` (MED's LM head).

    ``samples["captions"]``: per scene a list of captions, the human-style ones first and one web-style
    alt-text last. Each scene contributes two distinct human-style captions (the contrastive pair) and its
    web-style one to MLM. Pairing the terse web text too ("red circle" with "a red circle on the left")
    teaches [CLS] to drop what the web text leaves out, such as where the object is: retrieval fell from
    R mean 32 to 9 when a fifth of the pairs had it (docs/reproduction.md).
    """

    CONFIG_CLASS: ClassVar[type] = BlipWarmStartConfig
    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = {"tiny": "configs/models/blip_warm_start_text/tiny.yaml"}
    DEFAULT_MODEL_TYPE: ClassVar[str] = "tiny"

    @classmethod
    def example_batch(cls, config: BlipWarmStartConfig, batch_size: int = 2) -> ExampleBatch:
        """Scenes of three human-style captions and a web-style one (for the registry-wide tests)."""
        texts = example_texts(batch_size + 3)
        return ExampleBatch({"captions": [texts[i : i + 4] for i in range(batch_size)]}, inference="text_cls")

    def __init__(self, config: BlipWarmStartConfig) -> None:
        super().__init__()
        check_blip_config(config)
        if not 0.0 < config.mlm_probability < 1.0:
            raise ValueError(f"model.mlm_probability must be in (0, 1) (got {config.mlm_probability}).")
        self.config = config
        self.tokenizer = blip_tokenizer()
        text_cfg = med_config(config.med, add_cross_attention=False)  # cross-attention starts random in BLIP
        self.text_encoder = MedTextModel(text_cfg)
        self.cls = nn.Module()
        self.cls.predictions = LMPredictionHead(text_cfg)
        self.cls.predictions.decoder.weight = self.text_encoder.embeddings.word_embeddings.weight  # BERT's tying

    def _pick_texts(self, groups: list[list[str]], generator: torch.Generator | None) -> list[str]:
        """Per scene two distinct human-style captions, then (after all pairs) each scene's web-style one."""
        n, n_human = len(groups), len(groups[0]) - 1
        if n_human < 2:
            raise ValueError(f"each scene needs >= 2 human-style captions and a web-style one, got {len(groups[0])}")
        first = torch.randint(0, n_human, (n,), generator=generator).tolist()
        shift = torch.randint(1, n_human, (n,), generator=generator).tolist()
        second = [(f + s) % n_human for f, s in zip(first, shift, strict=True)]
        return [g[i] for g, i in zip(groups, first)] + [g[i] for g, i in zip(groups, second)] + [g[-1] for g in groups]

    def forward(self, samples: dict, generator: torch.Generator | None = None) -> WarmStartTextOutput:
        """MLM over the picked captions and the pairs' contrastive loss; ``generator`` fixes picks and masks."""
        n = len(samples["captions"])
        ids, atts = self.tokenize(self._pick_texts(samples["captions"], generator))
        masked, labels = mask_tokens(ids, atts, self.tokenizer, generator, self.config.mlm_probability)
        hidden = self.text_encoder(masked, atts, mode="text").last_hidden_state
        chosen = labels != -100
        logits = self.cls.predictions(hidden[chosen])  # only masked positions meet the 30,524-word projection
        targets = labels[chosen]
        mlm = F.cross_entropy(logits.float(), targets) if len(targets) else logits.sum() * 0.0
        cls = F.normalize(hidden[:, 0].float(), dim=-1)
        cls_a, cls_b = cls[:n], cls[n : 2 * n]
        para = paraphrase_contrastive_loss(cls_a, cls_b, self.config.paraphrase_temp)
        return WarmStartTextOutput(
            loss=mlm + self.config.paraphrase_weight * para,
            loss_mlm=mlm,
            loss_paraphrase=para,
            mlm_correct=(logits.argmax(-1) == targets).sum(),
            mlm_scored=chosen.sum(),
            cls_a=cls_a,
            cls_b=cls_b,
        )

    @torch.no_grad()
    def text_cls(self, texts: list[str] | dict) -> torch.Tensor:
        """Normalised [CLS] features ``[N, D]`` of unmasked ``texts`` (a batch: each scene's first caption)."""
        if isinstance(texts, dict):
            texts = [captions[0] for captions in texts["captions"]]
        ids, atts = self.tokenize(texts)
        return F.normalize(self.text_encoder(ids, atts, mode="text").last_hidden_state[:, 0].float(), dim=-1)

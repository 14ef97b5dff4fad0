"""Discriminative visual dialog (VisDial): score each candidate answer given image, caption and history."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.config import BlipConfig
from vlkit.models.examples import ExampleBatch, example_images, example_texts
from vlkit.models.outputs import ModelOutput


@registry.register_model("blip_dialog")
class BlipDialog(BlipBase):
    """The caption is encoded with the image-grounded encoder; a dialog encoder (the same MED layers,
    multimodal mode) cross-attends to [image features; caption features] and an ITM head scores
    "history [SEP] question [SEP] answer" as true or false (the paper's §5.5).
    """

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = {
        t: f"configs/models/blip_dialog/{t}.yaml" for t in ("visdial", "tiny")
    }
    DEFAULT_MODEL_TYPE: ClassVar[str] = "visdial"

    @classmethod
    def example_batch(cls, config: BlipConfig, batch_size: int = 2) -> ExampleBatch:
        """A small batch for tests (``vlkit.models.examples``)."""
        samples = {
            "image": example_images(config, batch_size),
            "caption": example_texts(batch_size),
            "dialog_history": ["q: is it red? a: yes"] * batch_size,
            "question": ["what shape is it"] * batch_size,
            "answer_options": [[f"option {i}" for i in range(4)]] * batch_size,
            "gt_index": torch.arange(batch_size) % 4,
        }
        return ExampleBatch(samples, inference="score_options")

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.text_encoder = self.build_text_encoder()
        h = self.text_encoder.config.hidden_size
        self.itm_head = nn.Linear(h, 2)
        # caption features live in text space; project them to the width the cross-attention reads
        self.caption_to_image = nn.Identity() if h == self.vision_width else nn.Linear(h, self.vision_width)

    def context(self, samples: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-attention memory: image patches followed by the image-grounded caption tokens."""
        image_embeds = self.encode_image(self.image_input(samples).to(self.device))
        ids, atts = self.tokenize(samples["caption"], first_token=self.tokenizer.enc_token_id)
        cap = self.text_encoder(ids, atts, encoder_hidden_states=image_embeds, mode="multimodal").last_hidden_state
        memory = torch.cat([image_embeds, self.caption_to_image(cap)], dim=1)
        mask = torch.cat([torch.ones(image_embeds.shape[:2], dtype=atts.dtype, device=self.device), atts], dim=1)
        return memory, mask

    def _dialog_texts(self, samples: dict, answers: list[str], repeat: int) -> list[str]:
        return [
            f"{samples['dialog_history'][i // repeat]} [SEP] {samples['question'][i // repeat]} [SEP] {a}"
            for i, a in enumerate(answers)
        ]

    def match_logits(self, memory: torch.Tensor, mask: torch.Tensor, texts: list[str]) -> torch.Tensor:
        ids, atts = self.tokenize(texts, first_token=self.tokenizer.enc_token_id, max_len=self.config.max_txt_len)
        rep = len(texts) // memory.shape[0]
        out = self.text_encoder(
            ids,
            atts,
            encoder_hidden_states=memory.repeat_interleave(rep, dim=0),
            encoder_attention_mask=mask.repeat_interleave(rep, dim=0),
            mode="multimodal",
        ).last_hidden_state
        return self.itm_head(out[:, 0])

    def forward(self, samples: dict) -> ModelOutput:
        """ITM loss on the ground-truth answer and one sampled wrong option per round."""
        memory, mask = self.context(samples)
        options, gt = samples["answer_options"], torch.as_tensor(samples["gt_index"]).tolist()
        negatives = []
        for opts, g in zip(options, gt, strict=True):
            choices = [j for j in range(len(opts)) if j != g]
            negatives.append(opts[choices[int(torch.randint(len(choices), (1,)))]])
        answers = [opt[g] for opt, g in zip(options, gt, strict=True)]
        texts = [t for pair in zip(answers, negatives, strict=True) for t in pair]
        logits = self.match_logits(memory, mask, self._dialog_texts(samples, texts, 2))
        labels = torch.tensor([1, 0] * len(answers), device=self.device)
        loss = F.cross_entropy(logits, labels)
        return ModelOutput(loss=loss, loss_itm=loss)

    @torch.no_grad()
    def score_options(self, samples: dict, chunk: int = 100) -> torch.Tensor:
        """Match score (ITM logit of "true") of every answer option: ``[B, num_options]``."""
        memory, mask = self.context(samples)
        scores = []
        for i, opts in enumerate(samples["answer_options"]):
            row = []
            for s in range(0, len(opts), chunk):
                part = opts[s : s + chunk]
                sub = {"dialog_history": [samples["dialog_history"][i]], "question": [samples["question"][i]]}
                logits = self.match_logits(memory[i : i + 1], mask[i : i + 1], self._dialog_texts(sub, part, len(part)))
                row.append(logits[:, 1])
            scores.append(torch.cat(row))
        return torch.stack(scores)

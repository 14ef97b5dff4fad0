"""VQA: a question encoder grounded on the image, and an answer decoder (generate or rank)."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import torch

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.caption import DecodingMixin
from vlkit.models.blip.config import BlipConfig
from vlkit.models.examples import ExampleBatch, example_images
from vlkit.models.generation import GenerationConfig, generate
from vlkit.models.med import lm_loss
from vlkit.models.outputs import ModelOutput


@registry.register_model("blip_vqa")
class BlipVQA(DecodingMixin, BlipBase):
    """Question ([ENC] + image) → answer decoder. Video types concatenate frame features (zero-shot)."""

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = {
        t: f"configs/models/blip_vqa/{t}.yaml"
        for t in ("vqav2", "okvqa", "aokvqa", "vqav2_129m", "vqav2_capfilt_large", "msrvtt_qa", "msvd_qa", "tiny")
    }
    DEFAULT_MODEL_TYPE: ClassVar[str] = "vqav2"
    HF_ARCH: ClassVar[str] = "vqa"

    @classmethod
    def example_batch(cls, config: BlipConfig, batch_size: int = 2) -> ExampleBatch:
        """A small batch for tests (``vlkit.models.examples``)."""
        samples = {
            "image": example_images(config, batch_size),
            "text_input": [f"what is in picture {i}" for i in range(batch_size)],
            "answer": ["a circle"] * batch_size + ["red"],  # the first question has two answers
            "weight": torch.tensor([0.7] + [1.0] * (batch_size - 1) + [0.3]),
            "n_answers": torch.tensor([2] + [1] * (batch_size - 1)),
        }
        kwargs = {"inference_method": "generate", "max_len": 5}
        return ExampleBatch(samples, inference="predict_answers", inference_kwargs=kwargs)

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.text_encoder = self.build_text_encoder()
        self.text_decoder = self.build_text_decoder()

    def encode_question(self, samples: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Question states ``[B, Lq, H]`` and their mask (the answer decoder's cross-attention input)."""
        image_embeds = self.encode_image(self.image_input(samples).to(self.device))
        ids, atts = self.tokenize(samples["text_input"], first_token=self.tokenizer.enc_token_id)
        states = self.text_encoder(ids, atts, encoder_hidden_states=image_embeds, mode="multimodal").last_hidden_state
        return states, atts

    def forward(self, samples: dict) -> ModelOutput:
        """Weighted answer LM loss: each question's answers weighted by annotator agreement."""
        states, atts = self.encode_question(samples)
        ans_ids, ans_atts = self.tokenize(samples["answer"], first_token=self.tokenizer.dec_token_id)
        labels = ans_ids.masked_fill(ans_ids == self.tokenizer.pad_token_id, -100)
        n = torch.as_tensor(samples["n_answers"], device=self.device)
        states, atts = states.repeat_interleave(n, dim=0), atts.repeat_interleave(n, dim=0)
        out = self.text_decoder(ans_ids, ans_atts, encoder_hidden_states=states, encoder_attention_mask=atts)
        per_answer = lm_loss(out.logits, labels, self.config.label_smoothing, reduction="none")
        weight = torch.as_tensor(samples["weight"], device=self.device, dtype=per_answer.dtype)
        loss = (weight * per_answer).sum() / len(samples["text_input"])
        return ModelOutput(loss=loss, loss_lm=loss)

    @torch.no_grad()
    def predict_answers(
        self,
        samples: dict,
        inference_method: str = "generate",
        answer_list: list[str] | None = None,
        num_ans_candidates: int = 128,
        num_beams: int = 3,
        max_len: int = 10,
        min_len: int = 1,
        length_normalization: str = "full",
        generation_config: GenerationConfig | None = None,
        **_: object,
    ) -> list[str]:
        """Answers by beam-search generation, or by ranking ``answer_list`` (top-k by first token, then full LM).

        ``length_normalization`` applies to ``generate`` (``full``: the original code's beam scoring; ``generated``:
        transformers 5's); a ``generation_config`` replaces ``num_beams``/``max_len``/``min_len``/
        ``length_normalization`` (and may sample). As in the original (and LAVIS, and transformers), the answer
        decoder attends to every question position when generating, padding included; ranking masks the padding.
        """
        if isinstance(samples.get("text_input"), str):
            samples = {**samples, "text_input": [samples["text_input"]]}
        states, atts = self.encode_question(samples)
        if inference_method == "generate":
            b = states.shape[0]
            bos = torch.full((b, 1), self.tokenizer.dec_token_id, dtype=torch.long, device=self.device)
            if generation_config is None:
                generation_config = GenerationConfig(
                    num_beams=num_beams,
                    max_length=max_len,
                    min_length=min_len,
                    length_normalization=length_normalization,
                )
            cfg = replace(
                generation_config,
                eos_token_id=self.tokenizer.sep_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
                bos_token_id=self.tokenizer.dec_token_id,
            )
            return self.decode(generate(self.text_decoder, bos, states, None, cfg))
        if inference_method == "rank":
            if not answer_list:
                raise ValueError("inference_method='rank' needs answer_list (the candidate answers).")
            return self.rank_answers(states, atts, answer_list, num_ans_candidates)
        raise ValueError(f"inference_method must be 'generate' or 'rank', got {inference_method!r}")

    def rank_answers(self, states: torch.Tensor, atts: torch.Tensor, answers: list[str], k: int) -> list[str]:
        """Keep the ``k`` answers whose first token is most likely, then pick the best full-answer LM score."""
        ans_ids, ans_atts = self.tokenize(answers, first_token=self.tokenizer.dec_token_id)
        b, k = states.shape[0], min(k, len(answers))
        start = torch.full((b, 1), self.tokenizer.dec_token_id, dtype=torch.long, device=self.device)
        first_logits = self.text_decoder(start, encoder_hidden_states=states, encoder_attention_mask=atts).logits[:, 0]
        first_prob = first_logits.softmax(dim=-1)[:, ans_ids[:, 1]]
        top_prob, top_idx = first_prob.topk(k, dim=1)
        ids, masks = ans_ids[top_idx.flatten()], ans_atts[top_idx.flatten()]
        labels = ids.masked_fill(ids == self.tokenizer.pad_token_id, -100)
        rep_states, rep_atts = states.repeat_interleave(k, dim=0), atts.repeat_interleave(k, dim=0)
        logits = self.text_decoder(ids, masks, encoder_hidden_states=rep_states, encoder_attention_mask=rep_atts).logits
        score = -lm_loss(logits, labels, self.config.label_smoothing, reduction="none").view(b, k)
        best = top_idx.gather(1, score.argmax(dim=1, keepdim=True)).squeeze(1)
        return [answers[i] for i in best.tolist()]

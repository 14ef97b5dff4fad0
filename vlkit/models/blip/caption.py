"""Image captioning: the image-grounded text decoder with a prompt ("a picture of ")."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import torch

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.config import BlipConfig
from vlkit.models.examples import ExampleBatch, example_images, example_texts
from vlkit.models.generation import GenerationConfig, generate
from vlkit.models.outputs import ModelOutput


class DecodingMixin:
    """Turns generated ids back into text."""

    def decode(self, ids: torch.Tensor, strip_prefix: str = "") -> list[str]:
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [
            t[len(strip_prefix) :].strip() if strip_prefix and t.startswith(strip_prefix) else t.strip() for t in texts
        ]


@registry.register_model("blip_caption")
class BlipCaption(DecodingMixin, BlipBase):
    """Captioner: LM loss (label smoothing, prompt tokens masked) in training; ``generate`` for captions."""

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = {
        t: f"configs/models/blip_caption/{t}.yaml" for t in ("base_coco", "base_coco_original", "large_coco", "tiny")
    }
    DEFAULT_MODEL_TYPE: ClassVar[str] = "base_coco"
    HF_ARCH: ClassVar[str] = "caption"

    @classmethod
    def example_batch(cls, config: BlipConfig, batch_size: int = 2) -> ExampleBatch:
        """A small batch for tests (``vlkit.models.examples``)."""
        samples = {"image": example_images(config, batch_size), "text_input": example_texts(batch_size)}
        return ExampleBatch(samples, inference="generate", inference_kwargs={"max_length": 10, "min_length": 3})

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.text_decoder = self.build_text_decoder()
        self.prompt = config.prompt
        prompt_ids = self.tokenizer(self.prompt, add_special_tokens=True).input_ids[:-1]  # drop [SEP]
        self.prompt_length = len(prompt_ids)

    def forward(self, samples: dict) -> ModelOutput:
        image_embeds = self.encode_image(self.image_input(samples).to(self.device))
        texts = [self.prompt + t for t in samples["text_input"]]
        ids, atts = self.tokenize(texts)
        loss = self.decoder_lm_loss(ids, atts, image_embeds, prompt_length=self.prompt_length)  # the prompt is given
        return ModelOutput(loss=loss, loss_lm=loss)

    @torch.no_grad()
    def generate(
        self,
        samples: dict,
        use_nucleus_sampling: bool = False,
        num_beams: int = 3,
        max_length: int = 30,
        min_length: int = 10,
        top_p: float = 0.9,
        repetition_penalty: float | None = None,
        num_captions: int = 1,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        top_k: int | None = None,
        length_normalization: str = "full",
        generation_config: GenerationConfig | None = None,
    ) -> list[str]:
        """Captions for ``samples["image"]``: ``num_captions`` per image, consecutive; prompt removed.

        Lengths count the prompt tokens, as in BLIP and LAVIS. ``top_k`` (0 = off) restricts sampling to the
        k most likely tokens before ``top_p``. ``None`` for ``top_k`` / ``repetition_penalty`` means the original
        BLIP's: top-k 50 and penalty 1.1 when sampling (transformers' default top-k and BLIP's hard-coded
        penalty), none for beam search. ``length_normalization``: ``full`` (the original code's beam scoring,
        over the prompt too) or ``generated`` (transformers 5's). A ``generation_config`` replaces all of these
        decoding arguments (its ``num_return_sequences`` is the number of captions).
        """
        if generation_config is None:
            generation_config = GenerationConfig(
                num_beams=num_beams,
                max_length=max_length,
                min_length=min_length,
                use_nucleus_sampling=use_nucleus_sampling,
                top_p=top_p,
                top_k=top_k,
                repetition_penalty=repetition_penalty,
                num_return_sequences=num_captions,
                temperature=temperature,
                length_normalization=length_normalization,
            )
        image_embeds = self.encode_image(self.image_input(samples).to(self.device))
        b = image_embeds.shape[0]
        prompt_ids = (
            torch.tensor(self.tokenizer(self.prompt).input_ids[:-1], device=self.device, dtype=torch.long)
            .expand(b, -1)
            .clone()
        )
        prompt_ids[:, 0] = self.tokenizer.dec_token_id
        cfg = replace(
            generation_config,
            eos_token_id=self.tokenizer.sep_token_id,
            pad_token_id=self.tokenizer.pad_token_id,
            bos_token_id=self.tokenizer.dec_token_id,
        )
        out = generate(self.text_decoder, prompt_ids, image_embeds, None, cfg, generator=generator)
        return self.decode(out, strip_prefix=self.prompt.strip())

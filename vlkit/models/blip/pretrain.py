"""BLIP pre-training: ITC + ITM + LM on one ViT pass and three text passes."""

from __future__ import annotations

from typing import ClassVar

import torch

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.config import BlipConfig, model_type_configs
from vlkit.models.blip.contrastive import ContrastiveHeads
from vlkit.models.blip.features import FeatureMixin
from vlkit.models.examples import ExampleBatch, example_images, example_texts
from vlkit.models.med import MedForCausalLM, tie_text_weights
from vlkit.models.outputs import ModelOutput


@registry.register_model("blip_pretrain")
class BlipPretrain(ContrastiveHeads, FeatureMixin, BlipBase):
    """BLIP pre-training: ITC (momentum distillation, queues) + ITM (hard negatives) + LM (label smoothing).

    One ViT pass and three text passes per batch; the decoder shares everything but self-attention with
    the encoder (``share_strategy``, the paper's Table 3).
    """

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = model_type_configs(
        "blip_pretrain", "base", "base_14m", "base_129m", "large", "tiny"
    )
    DEFAULT_MODEL_TYPE: ClassVar[str] = "base"

    @classmethod
    def example_batch(cls, config: BlipConfig, batch_size: int = 2) -> ExampleBatch:
        """A small batch for tests (``vlkit.models.examples``)."""
        samples = {"image": example_images(config, batch_size), "text_input": example_texts(batch_size)}
        return ExampleBatch(samples, inference="extract_features", inference_kwargs={"mode": "multimodal"})

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.init_contrastive(use_idx_queue=False, ptr_name="queue_ptr")
        self.text_decoder = MedForCausalLM(self.med_config())
        tie_text_weights(self.text_encoder, self.text_decoder.bert, config.share_strategy)
        self.text_decoder.tie_weights()
        # The released pre-training checkpoints hold a stale 30522-entry `cls.predictions.bias` beside the
        # 30524-entry decoder bias that is actually used (left over from growing BERT's vocabulary by
        # [DEC]/[ENC]). Keep that layout, as an unused buffer, so those checkpoints load strictly.
        head = self.text_decoder.cls.predictions
        del head.bias
        head.register_buffer("bias", torch.zeros(self.tokenizer.vocab_size))

    def forward(self, samples: dict, alpha: float | None = None) -> ModelOutput:
        """ITC + ITM + LM losses; ``alpha`` is the ITC distillation weight (None = ``config.alpha``)."""
        image = self.image_input(samples).to(self.device)
        image_embeds = self.encode_image(image)
        ids, atts = self.tokenize(samples["text_input"])
        loss_itc, loss_itm = self.itc_and_itm(image, image_embeds, ids, atts, idx=None, alpha=alpha)
        loss_lm = self.decoder_lm_loss(ids, atts, image_embeds)
        return ModelOutput(loss=loss_itc + loss_itm + loss_lm, loss_itc=loss_itc, loss_itm=loss_itm, loss_lm=loss_lm)

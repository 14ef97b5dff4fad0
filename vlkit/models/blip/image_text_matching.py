"""Stand-alone image-text matching (ITM logits or ITC similarities), as LAVIS's ``blip_image_text_matching``."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.config import BlipConfig, model_type_configs
from vlkit.models.blip.features import FeatureMixin
from vlkit.models.examples import ExampleBatch, example_images, example_texts


@registry.register_model("blip_image_text_matching")
class BlipImageTextMatching(FeatureMixin, BlipBase):
    """Score whether a text matches an image: ``model(samples, match_head="itm")`` → ITM logits ``[B, 2]`` of
    the pairs, ``match_head="itc"`` → cosine similarity matrix ``[B_img, B_txt]`` (as LAVIS). Loads retrieval
    checkpoints (as the original does).
    """

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = model_type_configs(
        "blip_image_text_matching", "base", "large", "tiny"
    )
    DEFAULT_MODEL_TYPE: ClassVar[str] = "base"
    HF_ARCH: ClassVar[str] = "retrieval"

    @classmethod
    def example_batch(cls, config: BlipConfig, batch_size: int = 2) -> ExampleBatch:
        """A small batch for tests (``vlkit.models.examples``)."""
        samples = {"image": example_images(config, batch_size), "text_input": example_texts(batch_size)}
        return ExampleBatch(samples, trainable=False, inference="match", inference_kwargs={"match_head": "itc"})

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.text_encoder = self.build_text_encoder()
        text_width = self.text_encoder.config.hidden_size
        self.vision_proj = nn.Linear(self.vision_width, config.embed_dim)
        self.text_proj = nn.Linear(text_width, config.embed_dim)
        self.itm_head = nn.Linear(text_width, 2)

    def forward(self, samples: dict, match_head: str = "itm") -> torch.Tensor:
        return self.match(samples, match_head)

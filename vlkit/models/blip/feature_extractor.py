"""Unimodal and multimodal BLIP features with their ITC projections (``extract_features``)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.config import BlipConfig, model_type_configs
from vlkit.models.blip.features import FeatureMixin
from vlkit.models.examples import ExampleBatch, example_images, example_texts


@registry.register_model("blip_feature_extractor")
class BlipFeatureExtractor(FeatureMixin, BlipBase):
    """Unimodal (image / text, with 256-d ITC projections) and multimodal features: ``extract_features``."""

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = model_type_configs(
        "blip_feature_extractor", "base", "base_14m", "base_129m", "tiny"
    )
    UNRELEASED_MODEL_TYPES: ClassVar[dict[str, str]] = {
        "large": "LAVIS lists it only as a comment (configs/models/blip_feature_extractor_large.yaml, never added) "
        "and Salesforce published no weights for it"
    }
    DEFAULT_MODEL_TYPE: ClassVar[str] = "base"

    @classmethod
    def example_batch(cls, config: BlipConfig, batch_size: int = 2) -> ExampleBatch:
        """A small batch for tests (``vlkit.models.examples``)."""
        samples = {"image": example_images(config, batch_size), "text_input": example_texts(batch_size)}
        return ExampleBatch(
            samples, trainable=False, inference="extract_features", inference_kwargs={"mode": "multimodal"}
        )

    def __init__(self, config: BlipConfig) -> None:
        super().__init__(config)
        self.text_encoder = self.build_text_encoder()
        self.vision_proj = nn.Linear(self.vision_width, config.embed_dim)
        self.text_proj = nn.Linear(self.text_encoder.config.hidden_size, config.embed_dim)

    def forward(self, samples: dict) -> torch.Tensor:
        """ITC cosine similarity matrix ``[B_img, B_txt]``, as ``match(samples, match_head="itc")``."""
        return self.match(samples, match_head="itc")

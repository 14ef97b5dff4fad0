"""The vision half of the tiny encoders' warm start: BLIP's ViT learns to read a scene from its [CLS] token.

The miniature of BLIP's ImageNet-classified ViT: a supervised read-out (:class:`SceneHeads`) of which grid
cells hold an object, each object's colour, shape and size, and the background. The ViT's position
embeddings start from a fixed 2-D sine-cosine grid (as in MAE). Only ``visual_encoder.*`` outlives the
warm start (:func:`vlkit.models.blip.warm_start.warm_state_dict`).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from vlkit.common.registry import registry
from vlkit.models.blip.base import BlipBase
from vlkit.models.blip.config import BlipWarmStartConfig
from vlkit.models.blip.scene_heads import SceneHeads
from vlkit.models.examples import ExampleBatch, example_images
from vlkit.models.outputs import ModelOutput
from vlkit.models.vit import sincos_position_grid


@registry.register_model("blip_warm_start_vision")
class BlipWarmStartVision(BlipBase):
    """``visual_encoder`` + ``scene_heads``; ``samples``: ``image`` and ``scene_labels``."""

    CONFIG_CLASS: ClassVar[type] = BlipWarmStartConfig
    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = {"tiny": "configs/models/blip_warm_start_vision/tiny.yaml"}
    DEFAULT_MODEL_TYPE: ClassVar[str] = "tiny"

    @classmethod
    def example_batch(cls, config: BlipWarmStartConfig, batch_size: int = 2) -> ExampleBatch:
        """Random images with one object each, in cells 0, 1, ... (for the registry-wide tests)."""
        c = config.scene_cells
        labels = torch.full((batch_size, c * (1 + len(config.scene_attributes)) + 1), -1, dtype=torch.long)
        labels[:, :c] = 0
        labels[:, -1] = 0
        for i in range(batch_size):
            labels[i, i % c] = 1
            for j in range(len(config.scene_attributes)):
                labels[i, (j + 1) * c + i % c] = 0
        return ExampleBatch(
            {"image": example_images(config, batch_size), "scene_labels": labels}, inference="scene_hits"
        )

    def __init__(self, config: BlipWarmStartConfig) -> None:
        super().__init__(config)
        vit = self.visual_encoder
        with torch.no_grad():
            vit.pos_embed[0, 1:] = sincos_position_grid(vit.width, config.image_size // vit.cfg.patch_size)
            vit.pos_embed[0, 0] = 0
        self.scene_heads = SceneHeads(
            vit.width, config.scene_cells, dict(config.scene_attributes), config.scene_backgrounds
        )

    def forward(self, samples: dict) -> ModelOutput:
        logits = self.scene_heads(self.visual_encoder(self.image_input(samples).to(self.device))[:, 0])
        loss = self.scene_heads.loss(logits, samples["scene_labels"].to(self.device))
        return ModelOutput(loss=loss, loss_cls=loss)

    @torch.no_grad()
    def scene_hits(self, samples: dict) -> dict[str, tuple[int, int]]:
        """``(correct, scored)`` of every read-out on a batch (see :meth:`SceneHeads.hits`)."""
        logits = self.scene_heads(self.visual_encoder(self.image_input(samples).to(self.device))[:, 0])
        return self.scene_heads.hits(logits, samples["scene_labels"].to(self.device))

"""``example_colour_classifier``: a small CNN that tells which colour channel dominates an image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.common.registry import registry
from vlkit.models.base_model import BaseModel
from vlkit.models.outputs import ModelOutput


@dataclass
class ColourClassifierConfig:
    """The ``model:`` section; each model type's YAML sets what differs from these defaults."""

    arch: str = "example_colour_classifier"
    model_type: str = "small"
    width: int = 8
    num_classes: int = 3
    image_size: int = 16
    load_pretrained: bool = False
    pretrained: str | None = None
    load_finetuned: bool = False
    finetuned: str | None = None
    preprocess: dict[str, Any] = field(default_factory=dict)  # processors of load_model_and_preprocess


@registry.register_model("example_colour_classifier")
class ColourClassifier(BaseModel):
    """Conv → ReLU → global average pool → linear; cross-entropy on ``samples["label"]``."""

    # Relative to this package: vlkit resolves them here from any working directory.
    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = {"small": "configs/models/colour_classifier/small.yaml"}
    CONFIG_CLASS: ClassVar[type] = ColourClassifierConfig
    DEFAULT_MODEL_TYPE: ClassVar[str] = "small"

    def __init__(self, config: ColourClassifierConfig) -> None:
        super().__init__()
        self.config = config
        self.conv = nn.Conv2d(3, config.width, kernel_size=3, stride=2, padding=1)
        self.head = nn.Linear(config.width, config.num_classes)

    def logits(self, image: torch.Tensor) -> torch.Tensor:
        """Class logits ``[B, num_classes]`` of images ``[B, 3, H, W]``."""
        return self.head(F.relu(self.conv(image.to(self.device))).mean(dim=(2, 3)))

    def forward(self, samples: dict) -> ModelOutput:
        logits = self.logits(samples["image"])
        loss = F.cross_entropy(logits, samples["label"].to(self.device))
        return ModelOutput(loss=loss, loss_cls=loss, logits=logits)

    @torch.no_grad()
    def predict(self, samples: dict) -> torch.Tensor:
        """The predicted class of each image."""
        return self.logits(samples["image"]).argmax(dim=-1)

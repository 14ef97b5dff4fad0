"""``example_colour_jitter``: scale an image tensor's brightness at random, then normalise it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from vlkit.processors.base_processor import BaseProcessor, register_processor


@dataclass
class ColourJitterConfig:
    jitter: float = 0.0  # brightness factor drawn from [1 - jitter, 1 + jitter] (0 for evaluation)
    mean: float = 0.5
    std: float = 0.25


@register_processor("example_colour_jitter")
class ColourJitterProcessor(BaseProcessor):
    """``[3, H, W]`` float image in ``[0, 1]`` → jittered, normalised tensor of the same shape."""

    CONFIG_CLASS: ClassVar[type] = ColourJitterConfig

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.jitter > 0:
            image = (image * (1.0 + c.jitter * (2.0 * torch.rand(()) - 1.0))).clamp(0.0, 1.0)
        return (image - c.mean) / c.std

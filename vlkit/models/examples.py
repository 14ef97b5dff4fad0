"""Small example batches every registered model declares, so one generic test covers each model.

``Model.example_batch(config)`` returns an :class:`ExampleBatch`: the samples its ``forward`` (and its
inference method) accept, whether ``forward`` returns a training loss, and which method is its evaluation API.
``tests/models/test_registered_models.py`` runs forward, backward, a save/load round trip and that method on
the tiny type of every registered model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

EXAMPLE_TEXTS = ("a red circle left of a blue square", "two green triangles", "a small yellow star")


@dataclass
class ExampleBatch:
    """A batch a model accepts, and how to exercise it.

    Attributes:
        samples: The batch as a data loader would give it.
        trainable: ``forward(samples)`` returns an output with a scalar ``.loss``.
        inference: Name of the model's evaluation method, called as ``method(samples, **inference_kwargs)``.
        inference_kwargs: Small settings for it (short generation lengths, etc.).
    """

    samples: dict[str, Any]
    trainable: bool = True
    inference: str | None = None
    inference_kwargs: dict[str, Any] = field(default_factory=dict)


def example_images(config: Any, batch_size: int, seed: int = 0) -> torch.Tensor:
    """``[batch_size, 3, S, S]`` random images at the model's ``image_size``."""
    g = torch.Generator().manual_seed(seed)
    size = int(config.image_size)
    return torch.randn(batch_size, 3, size, size, generator=g)


def example_texts(batch_size: int) -> list[str]:
    """``batch_size`` short captions."""
    return [EXAMPLE_TEXTS[i % len(EXAMPLE_TEXTS)] for i in range(batch_size)]

"""``example_colour_squares``: images of one noisy colour, labelled by their dominant channel (made in memory)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch.utils.data import Dataset

from vlkit.common.registry import registry
from vlkit.data.builders.base_builder import BaseDatasetBuilder, DatasetConfig


@dataclass
class ColourSquaresConfig(DatasetConfig):
    """``datasets.example_colour_squares``: the defaults come from ``configs/datasets/colour_squares``."""

    num_train: int = 64
    num_val: int = 32
    image_size: int = 16
    seed: int = 0


class ColourSquares(Dataset):
    """``n`` images whose label channel is brighter than the other two, plus pixel noise."""

    def __init__(self, n: int, image_size: int, seed: int, vis_processor: Any) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, 3, (n,), generator=gen)
        base = 0.2 + 0.3 * torch.rand(n, 3, 1, 1, generator=gen)
        base[torch.arange(n), self.labels] += 0.4
        noise = 0.1 * torch.randn(n, 3, image_size, image_size, generator=gen)
        self.images = (base + noise).clamp(0.0, 1.0)
        self.vis_processor = vis_processor

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image = self.images[index]
        return {"image": self.vis_processor(image) if self.vis_processor else image, "label": self.labels[index]}

    def collater(self, samples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return {
            "image": torch.stack([s["image"] for s in samples]),
            "label": torch.stack([s["label"] for s in samples]),
        }


@registry.register_builder("example_colour_squares")
class ColourSquaresBuilder(BaseDatasetBuilder):
    """Builds the ``train`` and ``val`` splits; each gets its split's ``vis_processor``."""

    CONFIG_CLASS: ClassVar[type] = ColourSquaresConfig
    # Relative to this package, like the model's YAML.
    DATASET_CONFIG_DICT: ClassVar[dict[str, str]] = {"default": "configs/datasets/colour_squares/defaults.yaml"}
    name: ClassVar[str] = "example_colour_squares"

    def build_datasets(self, splits: Collection[str] | None = None) -> dict[str, Dataset]:
        c = self.cfg
        sizes = {"train": c.num_train, "val": c.num_val}
        return {
            split: ColourSquares(n, c.image_size, c.seed + i, self.processors(split)[0])
            for i, (split, n) in enumerate(sizes.items())
            if splits is None or split in splits
        }

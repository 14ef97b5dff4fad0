"""Builders of the warm start's scenes, drawn in memory: ``warm_start_scenes`` and ``warm_start_captions``.

Both read the same stream (:mod:`vlkit.data.synthetic.warm_start_scenes`): scenes ``0 .. scenes-held_out-1``
are the ``train`` split and the last ``held_out`` the ``val`` split, so the ViT's images and the text
encoder's captions of one config come from the same scenes. Nothing is read from or written to disk.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

from torch.utils.data import Dataset

from vlkit.common.config import ConfigError
from vlkit.common.registry import registry
from vlkit.data.builders.base_builder import BaseDatasetBuilder, DatasetConfig
from vlkit.data.datasets.scenes import SceneCaptionDataset, SceneLabelDataset
from vlkit.data.synthetic.warm_start_scenes import DrawnScene, draw_scene

logger = logging.getLogger(__name__)

SPLITS = ("train", "val")


@dataclass
class WarmStartDataConfig(DatasetConfig):
    """``datasets.warm_start_*``: how many scenes to draw, which are held out, and what they look like."""

    data_type: str = "memory"
    scenes: int = 4000  # drawn scenes; the last ``held_out`` are the ``val`` split
    held_out: int = 500
    seed: int = 0  # the stream ``rng_for(seed, "warm_start", i)``
    max_objects: int = 4  # as the world the models will see
    specific_captions: bool = False  # human-style captions as the world's (``world.specific_captions``)


class WarmStartBuilder(BaseDatasetBuilder):
    """Draws the scenes of the requested splits and hands them to :meth:`make_dataset`."""

    CONFIG_CLASS: ClassVar[type] = WarmStartDataConfig
    READS_ANNOTATIONS: ClassVar[bool] = False  # scenes are drawn, never read: no schema to declare

    def split_range(self, split: str) -> range:
        """Stream indices of ``split`` (``train``: all but the last ``held_out``; ``val``: those)."""
        c = self.cfg
        if c.scenes <= c.held_out or c.held_out < 1:
            raise ConfigError(f"datasets.{self.name}: scenes ({c.scenes}) must exceed held_out ({c.held_out}) >= 1.")
        first_val = c.scenes - c.held_out
        return range(0, first_val) if split == "train" else range(first_val, c.scenes)

    def build_datasets(self, splits: Collection[str] | None = None) -> dict[str, Dataset]:
        """``train`` and ``val`` (only those in ``splits`` when given)."""
        c = self.cfg
        out = {}
        for split in SPLITS:
            if splits is not None and split not in splits:
                continue
            indices = self.split_range(split)
            drawn = [draw_scene(i, c.seed, c.max_objects, c.specific_captions) for i in indices]
            out[split] = self.make_dataset(split, drawn, indices.start)
            logger.info("%s/%s: %d scenes drawn", self.name, split, len(drawn))
        return out

    def make_dataset(self, split: str, drawn: list[DrawnScene], first_id: int) -> Dataset:
        raise TypeError(f"{type(self).__name__} must implement make_dataset()")


@registry.register_builder("warm_start_scenes")
class WarmStartSceneBuilder(WarmStartBuilder):
    """Images (through ``vis_processor``) with their scene labels: the ViT's supervised read-out."""

    name = "warm_start_scenes"
    DATASET_CONFIG_DICT: ClassVar[dict[str, str]] = {"default": "configs/datasets/warm_start_scenes/defaults.yaml"}

    def make_dataset(self, split: str, drawn: list[DrawnScene], first_id: int) -> Dataset:
        vis, _ = self.processors(split)
        if vis is None:
            raise ConfigError(f"datasets.{self.name}.vis_processor needs a 'train' and an 'eval' image processor.")
        return SceneLabelDataset([d.image for d in drawn], [d.labels for d in drawn], vis, first_id)


@registry.register_builder("warm_start_captions")
class WarmStartCaptionBuilder(WarmStartBuilder):
    """Every caption of each scene, grouped: the text encoder's MLM and paraphrase pairs."""

    name = "warm_start_captions"
    DATASET_CONFIG_DICT: ClassVar[dict[str, str]] = {"default": "configs/datasets/warm_start_captions/defaults.yaml"}

    def make_dataset(self, split: str, drawn: list[DrawnScene], first_id: int) -> Dataset:
        return SceneCaptionDataset([d.captions for d in drawn], first_id)

"""In-memory datasets of drawn scenes (the warm start's): images with scene labels, or captions per scene."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vlkit.data.datasets.base import collate


class SceneLabelDataset(Dataset):
    """``{"image", "scene_labels", "image_id"}`` per scene: the processed image and its label vector.

    Args:
        images: RGB ``uint8`` ``[H, W, 3]`` arrays.
        labels: One label vector per image (all of one length).
        vis_processor: Turns an array into a ``[3, S, S]`` tensor.
        first_id: The stream index of the first scene (``image_id`` = stream index).
    """

    def __init__(
        self, images: Sequence[np.ndarray], labels: Sequence[list[int]], vis_processor: Callable, first_id: int = 0
    ) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} label vectors")
        self.images = list(images)
        self.labels = torch.tensor(list(labels), dtype=torch.long)
        self.vis_processor = vis_processor
        self.first_id = first_id

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {
            "image": self.vis_processor(self.images[index]),
            "scene_labels": self.labels[index],
            "image_id": self.first_id + index,
        }

    def collater(self, samples: list[dict | None]) -> dict[str, Any]:
        return collate(samples)


class SceneCaptionDataset(Dataset):
    """``{"captions", "image_id"}`` per scene: every caption of one scene, as a list.

    Args:
        captions: Per scene, its captions (all scenes the same number, in the same roles).
        first_id: The stream index of the first scene.
    """

    def __init__(self, captions: Sequence[list[str]], first_id: int = 0) -> None:
        lengths = {len(c) for c in captions}
        if len(lengths) > 1:
            raise ValueError(f"every scene needs the same number of captions, got {sorted(lengths)}")
        self.captions = [list(c) for c in captions]
        self.first_id = first_id

    def __len__(self) -> int:
        return len(self.captions)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"captions": self.captions[index], "image_id": self.first_id + index}

    def collater(self, samples: list[dict | None]) -> dict[str, Any]:
        return collate(samples)

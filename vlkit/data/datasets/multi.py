"""NLVR² (image pairs) and VisDial (dialog rounds) datasets."""

from __future__ import annotations

from typing import Any

from vlkit.data.datasets.base import VLDataset
from vlkit.data.io import BadSampleError


class NLVRDataset(VLDataset):
    """``image0``, ``image1``, ``text_input`` (statement), ``label`` (1 = true)."""

    def load(self, index: int) -> dict[str, Any]:
        entry = self.annotation[index]
        label = str(entry["label"]).lower()
        if label not in ("true", "false"):
            raise BadSampleError(f"{entry['images'][0]} (label)", f"label must be True/False, got {entry['label']!r}")
        return {
            "image0": self.image(entry["images"][0]),
            "image1": self.image(entry["images"][1]),
            "text_input": self.text(entry["sentence"], f"{entry['images'][0]} (sentence)"),
            "label": int(label == "true"),
        }


class VisDialDataset(VLDataset):
    """One sample per dialog round: image, caption, history, question, 100 options and the gt index.

    ``annotation`` is the flattened list of rounds built by the builder from the official json.
    """

    def __init__(self, *args: Any, dense: dict[tuple[int, int], list[float]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dense_annotations = dense or {}

    def load(self, index: int) -> dict[str, Any]:
        e = self.annotation[index]
        return {
            "image": self.image(e["image"]),
            "caption": self.text(e["caption"], f"dialog {e['image_id']} caption"),
            "dialog_history": e["history"],
            "question": e["question"],
            "answer_options": e["options"],
            "gt_index": int(e["gt_index"]),
            "image_id": int(e["image_id"]),
            "round_id": int(e["round_id"]),
        }

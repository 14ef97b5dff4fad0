"""The captioning task generates with the tiny captioner and scores against the dataset's COCO gt."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from vlkit.metrics import build_coco_gt
from vlkit.models import load_model
from vlkit.tasks.captioning import CaptionRunConfig, CaptionTask


class _CaptionEval(torch.utils.data.Dataset):
    """Three images with two references each; the second image appears twice (distributed padding)."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.images = torch.randn(3, 3, 64, 64, generator=g)
        self.refs = {7: ["a red circle", "one red circle"], 8: ["a blue square", "blue square"], 9: ["a cat", "cat"]}
        self.order = [7, 8, 8, 9]

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> dict:
        image_id = self.order[i]
        return {"image": self.images[image_id - 7], "image_id": image_id}

    def collater(self, batch: list[dict]) -> dict:
        return {
            "image": torch.stack([b["image"] for b in batch]),
            "image_id": torch.tensor([b["image_id"] for b in batch]),
        }

    def coco_gt(self) -> dict:
        return build_coco_gt([{"image_id": i, "caption": c} for i, c in self.refs.items()])


def test_evaluation_generates_dedupes_scores_and_writes_json(tmp_path: Path) -> None:
    task = CaptionTask()
    task.run_cfg = CaptionRunConfig(task="captioning", max_len=8, min_len=3, num_beams=2)
    task.result_dir = tmp_path
    task.epoch_tag = "_epoch0"
    model = load_model("blip_caption", "tiny")
    dataset = _CaptionEval()
    metrics = task.evaluation(model, DataLoader(dataset, batch_size=2, collate_fn=dataset.collater), "val")
    for key in ("Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"):
        assert key in metrics and 0.0 <= metrics[key] <= 10.0, (key, metrics)
    assert metrics["agg_metrics"] == metrics["CIDEr"] + metrics["Bleu_4"]
    written = json.loads((tmp_path / "val_epoch0.json").read_text())
    assert sorted(r["image_id"] for r in written) == [7, 8, 9]  # the repeated image is scored once
    assert all(isinstance(r["caption"], str) and r["caption"] for r in written)

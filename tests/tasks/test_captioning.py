"""The captioning task generates with the tiny captioner and scores against the dataset's COCO gt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from vlkit.metrics import build_coco_gt
from vlkit.models import load_model
from vlkit.models.decoding import GenerationConfig
from vlkit.tasks.captioning import CaptionRunConfig, CaptionTask
from vlkit.tasks.context import EvalContext


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
    generation = GenerationConfig(num_beams=2, max_length=8, min_length=3, top_k=None, repetition_penalty=None)
    task.run_cfg = CaptionRunConfig(task="captioning", generation=generation)
    model = load_model("blip_caption", "tiny")
    dataset = _CaptionEval()
    loader = DataLoader(dataset, batch_size=2, collate_fn=dataset.collater)
    metrics = task.evaluation(model, loader, EvalContext(split="val", result_dir=tmp_path, epoch_tag="_epoch0"))
    for key in ("Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"):
        assert key in metrics and 0.0 <= metrics[key] <= 10.0, (key, metrics)
    assert metrics["agg_metrics"] == metrics["CIDEr"] + metrics["Bleu_4"]
    written = json.loads((tmp_path / "val_epoch0.json").read_text())
    assert sorted(r["image_id"] for r in written) == [7, 8, 9]  # the repeated image is scored once
    assert all(isinstance(r["caption"], str) and r["caption"] for r in written)


def test_flat_decoding_keys_move_under_generation_with_a_deprecation(tmp_path: Path) -> None:
    from vlkit.common.config import Config

    path = tmp_path / "p.yaml"
    model = "model: {arch: blip_caption, model_type: tiny}\n"
    path.write_text(model + "run: {task: captioning, max_len: 12, num_beams: 2}\n")
    with pytest.warns(DeprecationWarning, match=r"'run.max_len' is deprecated .* use 'run.generation.max_length'"):
        run = Config(path).run_cfg
    assert "max_len" not in run and run.generation.max_length == 12 and run.generation.num_beams == 2
    assert run.generation.min_length == 5  # the rest keeps the captioning defaults
    path.write_text(model + "run: {task: captioning, generation: {max_len: 3}}\n")
    with pytest.raises(ValueError, match=r"run\.generation"):
        Config(path)

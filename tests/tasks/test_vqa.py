"""VQA evaluation: answers ranked over the dataset's answer list (or generated), scored by vqa_accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vlkit.models import load_model
from vlkit.models.decoding import GenerationConfig
from vlkit.tasks.context import EvalContext
from vlkit.tasks.vqa import VQARunConfig, VQATask


class _VQAEval(torch.utils.data.Dataset):
    """Four questions (the last repeats the first: distributed padding) with VQAv2-style answers."""

    answer_list = ["yes", "no", "red", "blue", "green"]

    def __init__(self, video: bool = False) -> None:
        g = torch.Generator().manual_seed(0)
        self.images = torch.randn(3, 2, 3, 64, 64, generator=g) if video else torch.randn(3, 3, 64, 64, generator=g)
        self.items = [
            (10, "is it red?", ["yes"] * 10),
            (11, "what colour?", ["red"] * 6 + ["blue"] * 4),
            (12, "what is green?", ["green"] * 10),
        ]
        self.order = [0, 1, 2, 0]

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> dict:
        j = self.order[i]
        return {"image": self.images[j], "text_input": self.items[j][1], "question_id": self.items[j][0]}

    def collater(self, batch: list[dict]) -> dict:
        return {
            "image": torch.stack([b["image"] for b in batch]),
            "text_input": [b["text_input"] for b in batch],
            "question_id": [b["question_id"] for b in batch],
        }

    def annotations_for_eval(self) -> list[dict]:
        return [{"question_id": q, "answers": a} for q, _, a in self.items]


def run_eval(task: VQATask, model: torch.nn.Module, dataset: _VQAEval, tmp_path: Path) -> tuple[dict, list[dict]]:
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=dataset.collater)
    metrics = task.evaluation(model, loader, EvalContext(split="val", result_dir=tmp_path))
    return metrics, json.loads((tmp_path / "val.json").read_text())


@pytest.mark.parametrize("method", ["rank", "generate"])
def test_vqa_evaluation_scores_unique_questions(method: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = load_model("blip_vqa", "tiny").eval()
    task = VQATask()
    generation = GenerationConfig(num_beams=2, max_length=5, min_length=1)
    task.run_cfg = VQARunConfig(task="vqa", inference_method=method, num_ans_candidates=3, generation=generation)
    metrics, written = run_eval(task, model, _VQAEval(), tmp_path)
    assert sorted(r["question_id"] for r in written) == [10, 11, 12]
    if method == "rank":
        assert all(r["answer"] in _VQAEval.answer_list for r in written)
    # recompute the VQA accuracy from the written answers: min(1, matches / 3) averaged over the 10 annotators
    # (every answer here is a single word, so the official normalisation leaves them unchanged)
    gts = {q: a for q, _, a in _VQAEval().items}
    expected = 100 * sum(min(1.0, gts[r["question_id"]].count(r["answer"]) / 3) for r in written) / 3
    assert metrics["overall"] == pytest.approx(expected, abs=0.01)
    assert metrics["agg_metrics"] == metrics["overall"]

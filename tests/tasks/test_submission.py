"""Splits without answers (NoCaps test, VQAv2 test-dev/test-std) give the evaluation servers' upload files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from vlkit.data.datasets import CaptionEvalDataset, VQAEvalDataset
from vlkit.tasks.captioning import CaptionRunConfig, CaptionTask
from vlkit.tasks.context import EvalContext
from vlkit.tasks.vqa import VQARunConfig, VQATask


def _caption_task(annotation: list[dict], tmp_path: Path) -> tuple[CaptionTask, CaptionEvalDataset]:
    task = CaptionTask()
    task.run_cfg = CaptionRunConfig(task="captioning")
    return task, CaptionEvalDataset(annotation, None, None, tmp_path, "nocaps/test", id_key="img_id")


def test_nocaps_test_without_references_writes_the_upload_file(tmp_path: Path, caplog) -> None:
    annotation = [{"image": f"test/{i:08d}.jpg", "img_id": i} for i in range(3)]
    task, dataset = _caption_task(annotation, tmp_path)
    results = [
        {"image_id": 2, "caption": "a cat"},
        {"image_id": 0, "caption": "a dog"},
        {"image_id": 0, "caption": "x"},
    ]
    with caplog.at_level(logging.WARNING):
        ctx = EvalContext(split="test", result_dir=tmp_path, dataset=dataset)
        assert task.after_evaluation(results, ctx) == {}  # nothing to score against
    upload = json.loads((tmp_path / "submission" / "test.json").read_text())
    assert upload == [{"image_id": 0, "caption": "a dog"}, {"image_id": 2, "caption": "a cat"}]
    assert "incomplete" in caplog.text and "[1]" in caplog.text  # image 1 has no caption: the server would refuse


def test_caption_split_with_references_is_scored_not_submitted(tmp_path: Path) -> None:
    annotation = [{"image": "a.jpg", "img_id": 5, "caption": ["a red circle", "red circle"]}]
    task, dataset = _caption_task(annotation, tmp_path)
    task.run_cfg = CaptionRunConfig(task="captioning", caption_tokenizer="simple")
    ctx = EvalContext(split="val", result_dir=tmp_path, dataset=dataset)
    metrics = task.after_evaluation([{"image_id": 5, "caption": "a red circle"}], ctx)
    assert metrics["Bleu_1"] > 0.5 and not (tmp_path / "submission").exists()


@pytest.mark.parametrize("split", ["test-dev", "test"])
def test_vqa_test_split_writes_question_id_answer_pairs(split: str, tmp_path: Path) -> None:
    annotation = [{"image": "x.jpg", "question": "what?", "question_id": q} for q in (11, 7)]
    task = VQATask()
    task.run_cfg = VQARunConfig(task="vqa")
    dataset = VQAEvalDataset(annotation, None, None, tmp_path, f"vqav2/{split}")
    results = [{"question_id": 11, "answer": "yes"}, {"question_id": 7, "answer": "2"}]
    assert task.after_evaluation(results, EvalContext(split=split, result_dir=tmp_path, dataset=dataset)) == {}
    upload = json.loads((tmp_path / "submission" / f"{split}.json").read_text())
    assert upload == [{"question_id": 7, "answer": "2"}, {"question_id": 11, "answer": "yes"}]
    assert all(isinstance(r["question_id"], int) and isinstance(r["answer"], str) for r in upload)

"""Zero-shot video QA: the VQA model answers from the video's frames, accuracy by exact match."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.tasks.test_vqa import _VQAEval, run_eval
from vlkit.models import load_model
from vlkit.tasks.video_qa import VideoQATask
from vlkit.tasks.vqa import VQARunConfig


def test_video_qa_ranks_answers_from_frames(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = load_model("blip_vqa", "tiny").eval()
    task = VideoQATask()
    task.run_cfg = VQARunConfig(task="video_qa", inference_method="rank", num_ans_candidates=3)
    dataset = _VQAEval(video=True)
    assert dataset.images.dim() == 5
    metrics, written = run_eval(task, model, dataset, tmp_path)
    assert len(written) == 3 and all(r["answer"] in dataset.answer_list for r in written)
    assert 0.0 <= metrics["overall"] <= 100.0 and metrics["agg_metrics"] == metrics["overall"]

"""Zero-shot video retrieval: the retrieval protocol on frame features, scored by video_retrieval_metrics."""

from __future__ import annotations

from pathlib import Path

import torch

from tests.tasks.test_retrieval import _RetrievalEval
from vlkit.models import load_model
from vlkit.tasks.context import EvalContext
from vlkit.tasks.retrieval import RetrievalRunConfig
from vlkit.tasks.video_retrieval import VideoRetrievalTask


def test_video_evaluation_reports_t2v_and_v2t(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = load_model("blip_retrieval", "tiny").eval()
    dataset = _RetrievalEval(video=True)
    assert dataset.images.dim() == 5  # [videos, frames, 3, H, W]
    task = VideoRetrievalTask()
    task.run_cfg = RetrievalRunConfig(task="video_retrieval", k_test=3, text_batch_size=8)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=dataset.collater)
    metrics = task.evaluation(model, loader, EvalContext(split="test", result_dir=tmp_path))
    for key in ("t2v_r1", "t2v_r5", "t2v_r10", "v2t_r1"):
        assert 0.0 <= metrics[key] <= 100.0, (key, metrics)
    assert 1.0 <= metrics["t2v_medr"] <= 3.0  # three videos to rank
    assert metrics["t2v_r10"] == 100.0 and metrics["agg_metrics"] == metrics["r_mean"]
    assert (tmp_path / "test.json").is_file()

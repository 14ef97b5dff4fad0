"""VisDial evaluation: 100 options scored per round; MRR/R@k/mean rank, NDCG where dense relevance exists."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from vlkit.common.config import RunConfig
from vlkit.metrics import visdial_metrics
from vlkit.models import load_model
from vlkit.tasks.context import EvalContext
from vlkit.tasks.dialogue import DialogueTask


class _Loader(list):
    """One batch and the dataset it came from (what the task reads dense relevance from)."""

    dataset: object = None


def _batch() -> dict:
    g = torch.Generator().manual_seed(0)
    options = [f"answer {i}" for i in range(100)]
    return {
        "image": torch.randn(2, 3, 64, 64, generator=g),
        "caption": ["a red circle", "a blue square"],
        "dialog_history": ["", "is it red? yes"],
        "question": ["is it red?", "how many?"],
        "answer_options": [options, options[::-1]],
        "gt_index": torch.tensor([3, 50]),
        "image_id": torch.tensor([5, 6]),
        "round_id": torch.tensor([1, 2]),
    }


@pytest.mark.parametrize("with_dense", [True, False])
def test_rounds_are_ranked_and_ndcg_uses_dense_rounds(with_dense: bool, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = load_model("blip_dialog", "tiny").eval()
    batch = _batch()
    relevance = torch.zeros(100)
    relevance[[3, 7]] = torch.tensor([1.0, 0.5])
    loader = _Loader([batch])
    loader.dataset = SimpleNamespace(dense_annotations={(5, 1): relevance.tolist()} if with_dense else {})
    task = DialogueTask()
    task.run_cfg = RunConfig(task="dialog")
    metrics = task.evaluation(model, loader, EvalContext(split="val", result_dir=tmp_path))
    with torch.no_grad():
        scores = model.score_options(batch)
    assert scores.shape == (2, 100)
    expected = (
        visdial_metrics(scores, [3, 50], scores[:1], relevance[None])
        if with_dense
        else visdial_metrics(scores, [3, 50])
    )
    assert metrics.keys() == expected.keys() and ("ndcg" in metrics) == with_dense
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, abs=1e-4), key
    assert 1.0 <= metrics["mean_rank"] <= 100.0 and metrics["agg_metrics"] == metrics["mrr"]
    assert (tmp_path / "val.json").is_file()

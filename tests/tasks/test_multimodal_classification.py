"""NLVR² evaluation: the tiny two-branch model's predictions scored by classification accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vlkit.common.config import RunConfig
from vlkit.models import load_model
from vlkit.tasks.context import EvalContext
from vlkit.tasks.multimodal_classification import MultimodalClassificationTask


def test_accuracy_matches_the_models_predictions(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = load_model("blip_nlvr", "tiny").eval()
    g = torch.Generator().manual_seed(1)
    batch = {
        "image0": torch.randn(4, 3, 64, 64, generator=g),
        "image1": torch.randn(4, 3, 64, 64, generator=g),
        "text_input": ["two red circles", "a blue square", "no stars", "one green star"],
        "label": torch.tensor([1, 0, 1, 0]),
    }
    task = MultimodalClassificationTask()
    task.run_cfg = RunConfig(task="nlvr")
    metrics = task.evaluation(model, [batch], EvalContext(split="val", result_dir=tmp_path))
    with torch.no_grad():
        predictions = model.predict(batch)["predictions"]
    expected = 100.0 * (predictions == batch["label"]).float().mean().item()
    assert metrics["accuracy"] == pytest.approx(expected) and metrics["agg_metrics"] == metrics["accuracy"]
    written = json.loads((tmp_path / "val.json").read_text())
    assert [r["prediction"] for r in written] == predictions.tolist()
    assert [r["target"] for r in written] == [1, 0, 1, 0]

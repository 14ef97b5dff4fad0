"""Pre-training task: the ramped alpha reaches the tiny model's ITC loss; validation reports mean losses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vlkit.models import load_model
from vlkit.tasks.context import EvalContext, StepContext
from vlkit.tasks.image_text_pretrain import ImageTextPretrainTask, PretrainRunConfig


def _batch() -> dict:
    g = torch.Generator().manual_seed(0)
    return {
        "image": torch.randn(4, 3, 64, 64, generator=g),
        "text_input": ["a red circle", "a blue square", "a green star", "two red circles"],
        "image_id": torch.arange(4),
    }


def test_alpha_ramps_over_two_epochs_and_reaches_the_model() -> None:
    torch.manual_seed(0)
    model = load_model("blip_pretrain", "tiny")
    task = ImageTextPretrainTask()
    task.run_cfg = PretrainRunConfig(task="image_text_pretrain")
    at = lambda epoch: StepContext(epoch=epoch, step_in_epoch=0, steps_per_epoch=10)  # noqa: E731
    assert task.alpha_for(model, at(0)) == 0.0
    assert task.alpha_for(model, at(1)) == pytest.approx(0.2)
    assert task.alpha_for(model, at(2)) == pytest.approx(0.4)
    assert task.alpha_for(model, None) == pytest.approx(0.4)  # outside the training loop
    samples = _batch()
    keys = set(samples)
    seen = []
    model.register_forward_pre_hook(lambda _m, args, kwargs: seen.append(kwargs.get("alpha")), with_kwargs=True)
    out = task.train_step(model, samples, at(0))
    assert seen == [0.0] and set(samples) == keys  # alpha is an argument; the batch is left as it was
    assert torch.isfinite(out.loss) and out.loss > 0
    assert {"loss_itc", "loss_itm", "loss_lm"} <= set(out.losses())


def test_validation_averages_losses_and_selects_by_lowest_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = load_model("blip_pretrain", "tiny")
    task = ImageTextPretrainTask()
    task.run_cfg = PretrainRunConfig(task="image_text_pretrain")
    metrics = task.evaluation(model, [_batch(), _batch()], EvalContext(split="val", result_dir=tmp_path))
    assert metrics["loss"] > 0 and metrics["agg_metrics"] == -metrics["loss"]
    assert metrics["loss"] == pytest.approx(metrics["loss_itc"] + metrics["loss_itm"] + metrics["loss_lm"], rel=1e-4)
    assert (tmp_path / "val.json").is_file()

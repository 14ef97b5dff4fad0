from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from tests.runners import toy_components as toy
from tests.runners.conftest import TOY_YAML
from vlkit.common.config import Config
from vlkit.common.registry import registry
from vlkit.tasks import BaseTask
from vlkit.tasks.context import EvalContext


@pytest.fixture
def cfg(tmp_path: Path) -> Iterator[Config]:
    toy.register()
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_YAML)
    try:
        yield Config(path)
    finally:
        toy.unregister()


def test_setup_builds_model_and_datasets_through_the_registry(cfg: Config) -> None:
    task = registry.get_task_class(toy.TASK).setup_task(cfg)
    assert isinstance(task, toy.ToyTask) and task.run_cfg.max_epoch == 2
    assert isinstance(task.build_model(cfg), toy.ToyModel)
    datasets = task.build_datasets(cfg)
    assert set(datasets) == {toy.BUILDER} and set(datasets[toy.BUILDER]) == {"train", "val", "test"}
    assert len(datasets[toy.BUILDER]["val"]) == 7


def test_default_train_step_is_the_model_forward(cfg: Config) -> None:
    task = BaseTask.setup_task(cfg)
    model = toy.ToyModel(toy.ToyModelConfig())
    batch = toy.ToyDataset(4, 4, augment=False).collater([toy.ToyDataset(4, 4, False)[i] for i in range(4)])
    out = task.train_step(model, batch)
    assert out.loss.ndim == 0 and out.loss.requires_grad


def test_default_evaluation_averages_numeric_results_and_writes_json(cfg: Config, tmp_path: Path) -> None:
    task = BaseTask.setup_task(cfg)
    ds = toy.ToyDataset(5, 4, augment=False)
    model = toy.ToyModel(toy.ToyModelConfig())
    model.train()
    loader = DataLoader(ds, batch_size=2, collate_fn=ds.collater)
    metrics = task.evaluation(
        model, loader, EvalContext(split="val", result_dir=tmp_path / "result", epoch_tag="_epoch3")
    )
    written = json.loads((tmp_path / "result" / "val_epoch3.json").read_text())
    assert len(written) == 3  # default valid_step: one record per batch
    assert metrics == {"loss": pytest.approx(sum(r["loss"] for r in written) / 3)}
    assert model.training  # evaluation restores the mode


def test_after_evaluation_skips_non_numeric_and_non_finite(tmp_path: Path) -> None:
    results = [{"a": 1.0, "name": "x", "flag": True}, {"a": 3.0, "b": float("nan")}]
    assert BaseTask().after_evaluation(results, EvalContext(split="val")) == {"a": 2.0}


def test_max_eval_batches_limits_evaluation(cfg: Config) -> None:
    task = registry.get_task_class(toy.TASK).setup_task(cfg)
    ds = toy.ToyDataset(9, 4, augment=False)
    loader = DataLoader(ds, batch_size=2, collate_fn=ds.collater)
    metrics = task.evaluation(toy.ToyModel(toy.ToyModelConfig()), loader, EvalContext(split="val", max_batches=2))
    assert metrics["n"] == 4
    assert torch.isfinite(torch.tensor(metrics["mse"]))


def test_dataset_image_size_other_than_the_models_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "model: {arch: blip_caption, model_type: tiny}\n"
        "datasets:\n  shapes_coco_caption:\n    vis_processor:\n"
        "      train: {name: blip_image_train, image_size: 224}\n"
        "run: {task: captioning, output_dir: out}\n"
    )
    cfg = Config(path)
    task = registry.get_task_class("captioning").setup_task(cfg)
    with caplog.at_level("WARNING", logger="vlkit.tasks.base_task"):
        task.build_datasets(cfg)
    warned = [r.getMessage() for r in caplog.records if "image_size" in r.getMessage()]
    assert warned == [
        "datasets.shapes_coco_caption.vis_processor.train.image_size=224 differs from model.image_size=64; "
        "set them equal unless the change of resolution is intended"
    ]


def test_only_the_runs_splits_are_built(tmp_path: Path) -> None:
    """A dataset config listing val/test trains with only its train file there; building everything names the gap."""
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "train.json").write_text(json.dumps([{"image": "a.jpg", "caption": "x", "image_id": "0"}]))
    path = tmp_path / "p.yaml"
    path.write_text(
        "model: {arch: blip_retrieval, model_type: tiny}\n"
        f"datasets:\n  coco_retrieval:\n    build_info:\n      root: {tmp_path / 'data'}\n"
        "      annotations: {train: {storage: train.json}}\n"
        "run: {task: retrieval, output_dir: out}\n"
    )
    cfg = Config(path)
    task = registry.get_task_class("retrieval").setup_task(cfg)
    assert set(task.build_datasets(cfg, splits={"train"})["coco_retrieval"]) == {"train"}
    with pytest.raises(FileNotFoundError, match="split 'val'.*coco_karpathy_val.json"):
        task.build_datasets(cfg)


def test_a_builder_without_a_splits_argument_builds_all(cfg: Config) -> None:
    """Plugin builders written against build_datasets() keep working when the run passes its splits."""
    task = registry.get_task_class(toy.TASK).setup_task(cfg)
    assert set(task.build_datasets(cfg, splits={"train"})[toy.BUILDER]) == {"train", "val", "test"}

"""End-to-end toy jobs in-process: outputs, best checkpoint, accumulation, AMP, the iteration runner."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from tests.runners.conftest import final_weights, max_abs_diff, read_log
from tests.runners.toy_components import ToyModel
from vlkit.common.config import Config, ConfigError
from vlkit.common.registry import registry
from vlkit.runners.checkpointing import load_checkpoint_file
from vlkit.runners.runner_base import RunnerBase

RunToy = Callable[..., dict[str, Any]]


def test_outputs_log_jsonl_config_and_summary(run_toy: RunToy, capsys: pytest.CaptureFixture) -> None:
    summary = run_toy("run.test_splits=[test]", "run.job_name=job")
    job = Path(summary["job_dir"])
    assert job.name == "job"
    assert yaml.safe_load((job / "config.yaml").read_text())["run"]["max_epoch"] == 2
    records = read_log(job)
    train = [r for r in records if r["type"] == "train"]
    assert len(train) == 12  # 24 samples / batch 4 = 6 updates per epoch, logged every step
    assert {"loss", "loss_mse", "loss_l1", "lr", "samples_per_s", "epoch", "step"} <= set(train[0])
    assert train[0]["lr"] == pytest.approx(1e-6) and train[2]["lr"] == pytest.approx(0.01)  # warm-up of 2 steps
    epochs = [r for r in records if r["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert all(e["num_skipped"] == 5 for e in epochs)  # indices 0, 5, 10, 15, 20 flagged by the toy dataset
    assert all(e["skipped"] == {"toy flag": {"toy-shard": 5}} for e in epochs)  # by reason and shard
    evals = [r for r in records if r["type"] == "eval"]
    assert [e["split"] for e in evals] == ["val", "val", "test"]
    assert evals[0]["n"] == 7 and evals[-1]["n"] == 9
    assert records[-1]["type"] == "summary" and records[-1]["best_checkpoint"] == summary["best_checkpoint"]
    assert (job / "result" / "val_epoch0.json").is_file() and (job / "result" / "test_best.json").is_file()
    out = capsys.readouterr().out
    assert "best agg_metrics" in out and "checkpoint_best.pth" in out


@pytest.mark.parametrize("mode", ["max", "min"])
def test_best_checkpoint_follows_metric_and_mode(run_toy: RunToy, mode: str) -> None:
    summary = run_toy("run.max_epoch=3", "run.best_metric=mse", f"run.best_metric_mode={mode}", "run.init_lr=0.05")
    mses = [r["mse"] for r in read_log(summary["job_dir"]) if r["type"] == "eval"]
    expected = (max if mode == "max" else min)(range(3), key=lambda i: mses[i])
    assert summary["best_epoch"] == expected
    assert summary["best_metric"] == {"mse": pytest.approx(mses[expected])}
    assert load_checkpoint_file(summary["best_checkpoint"])["epoch"] == expected


def test_unknown_best_metric_is_a_config_error(run_toy: RunToy) -> None:
    with pytest.raises(ConfigError, match="run.best_metric='accuracy'.*agg_metrics"):
        run_toy("run.best_metric=accuracy")


@pytest.mark.parametrize("n_train", [24, 20])  # 20: the last accumulation group is short
def test_gradient_accumulation_equals_big_batch(run_toy: RunToy, n_train: int) -> None:
    common = ["model.dropout=0.0", f"datasets._toy_runner_data.n_train={n_train}", "run.valid_splits=[]"]
    big = run_toy(*common, "run.batch_size_train=8", "run.job_name=big")
    acc = run_toy(*common, "run.batch_size_train=4", "run.accum_grad_iters=2", "run.job_name=acc")
    assert big["global_step"] == acc["global_step"] == 2 * -(-n_train // 8)
    big_w, acc_w = final_weights(big["job_dir"]), final_weights(acc["job_dir"])
    assert int(acc_w.pop("calls")) == 2 * -(-n_train // 4) and int(big_w.pop("calls")) == 2 * -(-n_train // 8)
    assert max_abs_diff(big_w, acc_w) <= 1e-6


def test_checkpoint_holds_full_state_and_loads_weights_only(run_toy: RunToy) -> None:
    summary = run_toy("run.max_epoch=1")
    ckpt = load_checkpoint_file(summary["last_checkpoint"])  # torch.load(weights_only=True)
    assert {"model", "optimizer", "lr_sched", "scaler", "rng", "train_state"} <= set(ckpt)
    assert {"frozen_scale", "calls", "temp", "norm.weight"} <= set(ckpt["model"])  # frozen params and buffers too
    assert int(ckpt["model"]["calls"]) == 6
    assert ckpt["train_state"]["epoch"] == 1 and ckpt["train_state"]["global_step"] == 6
    assert len(ckpt["rng"]) == 1 and isinstance(ckpt["rng"][0]["torch"], torch.Tensor)


def test_bf16_amp_training_on_cpu(run_toy: RunToy) -> None:
    summary = run_toy("run.amp=bf16", "run.max_epoch=1", "run.grad_clip=1.0")
    train = [r for r in read_log(summary["job_dir"]) if r["type"] == "train"]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in train)
    assert all(r["grad_norm"] is not None for r in train)


def test_iteration_runner_crosses_data_passes(run_toy: RunToy) -> None:
    summary = run_toy("run.runner=runner_iter", "run.max_iters=10", "run.iters_per_inner_epoch=4")
    records = read_log(summary["job_dir"])
    assert summary["global_step"] == 10
    assert [r["epoch"] for r in records if r["type"] == "epoch"] == [0, 1, 2]
    ckpt = load_checkpoint_file(summary["last_checkpoint"])
    assert ckpt["train_state"]["data_epoch"] == 1 and ckpt["train_state"]["data_batch"] == 4  # 6 batches per pass


def test_iteration_runner_needs_lengths(run_toy: RunToy) -> None:
    with pytest.raises(ConfigError, match="run.max_iters > 0"):
        run_toy("run.runner=runner_iter")


def test_evaluate_only_with_checkpoint_weights(run_toy: RunToy) -> None:
    trained = run_toy("run.test_splits=[test]")
    evaluated = run_toy(
        "run.test_splits=[test]",
        "run.valid_splits=[]",
        f"run.resume_ckpt_path={trained['best_checkpoint']}",
        evaluate_only=True,
    )
    assert Path(evaluated["job_dir"]).name.startswith("eval_")
    assert evaluated["metrics"]["test"] == pytest.approx(trained["metrics"]["test"])


def test_grad_checkpointing_switch_and_progress_in_samples(toy_cfg_path: Path, tmp_path: Path) -> None:
    cfg = Config(toy_cfg_path, ["run.grad_checkpointing=true", "run.accum_grad_iters=4", "run.max_epoch=1"])
    task = registry.get_task_class(cfg.run_cfg.task).setup_task(cfg)
    model = task.build_model(cfg)
    assert isinstance(model, ToyModel) and not model.grad_checkpointing
    runner = RunnerBase(cfg, task, model, task.build_datasets(cfg), tmp_path / "job")
    assert model.grad_checkpointing
    runner.train()
    # every micro-batch tells the model where training is (epoch, micro-batch index, micro-batches per epoch)
    assert task.progress_seen == [(0, i, 6) for i in range(6)]
    assert runner.state.global_step == 2  # 6 micro-batches in groups of 4 and 2


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed")
def test_tensorboard_missing_is_a_clear_error(run_toy: RunToy) -> None:
    with pytest.raises(ConfigError, match=r"vlkit\[tensorboard\]"):
        run_toy("run.tensorboard=true")


def test_evaluate_auto_uses_latest_training_checkpoint_in_a_new_dir(run_toy: RunToy) -> None:
    trained = run_toy("run.test_splits=[test]", "run.valid_splits=[]", "run.max_epoch=1")
    config_before = (Path(trained["job_dir"]) / "config.yaml").read_text()
    evaluated = run_toy("run.test_splits=[test]", "run.resume_ckpt_path=auto", "run.evaluate=true")
    assert evaluated["job_dir"] != trained["job_dir"]
    assert (Path(trained["job_dir"]) / "config.yaml").read_text() == config_before
    assert evaluated["metrics"]["test"] == pytest.approx(trained["metrics"]["test"])

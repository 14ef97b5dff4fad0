"""Exact resume: a run continued from any checkpoint ends with the same weights as an uninterrupted one."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.runners.conftest import final_weights, max_abs_diff, read_log
from vlkit.runners.checkpointing import step_checkpoints

RunToy = Callable[..., dict[str, Any]]


@pytest.mark.parametrize(
    "extra",
    [
        [],  # epoch runner
        ["run.accum_grad_iters=2", "datasets._toy_runner_data.n_train=28"],  # short last group
        ["run.runner=runner_iter", "run.max_iters=14", "run.iters_per_inner_epoch=5"],  # crosses data passes
        ["run.optimizer_in_backward=true"],  # per-parameter optimizer states
    ],
    ids=["epoch", "accum", "iter", "in_backward"],
)
def test_resume_from_every_checkpoint_matches_uninterrupted(run_toy: RunToy, tmp_path: Path, extra: list[str]) -> None:
    opts = ["run.max_epoch=3", "run.save_every_n_steps=2", "run.keep_last_n=0", *extra]
    ref = Path(run_toy(*opts, "run.job_name=ref")["job_dir"])
    ckpts = step_checkpoints(ref / "checkpoints")
    assert len(ckpts) >= 5
    for step, path in ckpts[:-1]:
        job = tmp_path / "out" / f"from{step}"
        (job / "checkpoints").mkdir(parents=True)
        shutil.copy(path, job / "checkpoints")
        run_toy(*opts, f"run.job_name=from{step}", "run.resume_ckpt_path=auto")
        assert max_abs_diff(final_weights(ref), final_weights(job)) == 0.0, f"resumed from step {step}"


def test_auto_resume_reuses_the_latest_job_dir(run_toy: RunToy) -> None:
    opts = ["run.lr_sched=constant_lr", "run.valid_splits=[]"]
    first = run_toy(*opts, "run.max_epoch=1")
    resumed = run_toy(*opts, "run.max_epoch=2", "run.resume_ckpt_path=auto")
    assert resumed["job_dir"] == first["job_dir"]
    assert [r["epoch"] for r in read_log(first["job_dir"]) if r["type"] == "epoch"] == [0, 1]
    straight = run_toy(*opts, "run.max_epoch=2", "run.job_name=straight")
    assert max_abs_diff(final_weights(straight["job_dir"]), final_weights(first["job_dir"])) == 0.0


def test_auto_resume_without_checkpoint_starts_fresh(run_toy: RunToy) -> None:
    summary = run_toy("run.max_epoch=1", "run.resume_ckpt_path=auto")
    assert summary["global_step"] == 6


def test_worker_processes_do_not_change_data_or_resume(run_toy: RunToy, tmp_path: Path) -> None:
    # Augmentation is seeded per (seed, epoch, index), so worker count and restarts do not change it.
    opts = ["run.max_epoch=2", "run.save_every_n_steps=4", "run.keep_last_n=0", "run.valid_splits=[]"]
    in_main = Path(run_toy(*opts, "run.job_name=w0")["job_dir"])
    workers = Path(run_toy(*opts, "run.job_name=w2", "run.num_workers=2")["job_dir"])
    assert max_abs_diff(final_weights(in_main), final_weights(workers)) == 0.0
    step, path = step_checkpoints(workers / "checkpoints")[0]
    assert step == 4  # mid-epoch (6 updates per epoch)
    job = tmp_path / "out" / "resumed"
    (job / "checkpoints").mkdir(parents=True)
    shutil.copy(path, job / "checkpoints")
    run_toy(*opts, "run.job_name=resumed", "run.num_workers=2", "run.resume_ckpt_path=auto")
    assert max_abs_diff(final_weights(in_main), final_weights(job)) == 0.0

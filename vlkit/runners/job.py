"""One job from a config: process group, seeds, output directory, task, model, data, runner."""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from omegaconf import DictConfig

from vlkit.common.config import Config
from vlkit.common.dist import barrier, broadcast_object, get_rank, init_distributed_from_env, is_main_process
from vlkit.common.registry import registry
from vlkit.runners.checkpointing import CHECKPOINT_DIRNAME, latest_job_checkpoint

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_job_dir(run_cfg: DictConfig, evaluate_only: bool = False) -> Path:
    """The job's output directory under ``run.output_dir``.

    ``run.job_name`` names it. Otherwise a training job resumed with ``resume_ckpt_path: auto`` reuses the
    job directory whose latest checkpoint is newest, and one resumed from a checkpoint inside
    ``<job>/checkpoints/`` reuses that job; anything else (and every evaluation-only job, so that it
    never overwrites a training job's files) gets a new timestamped directory.
    """
    base = Path(run_cfg.output_dir).expanduser()
    if run_cfg.job_name:
        return base / run_cfg.job_name
    spec = run_cfg.resume_ckpt_path
    if not evaluate_only and spec == "auto" and (latest := latest_job_checkpoint(base)) is not None:
        return latest.parent.parent
    if not evaluate_only and spec and spec != "auto" and Path(spec).parent.name == CHECKPOINT_DIRNAME:
        return Path(spec).expanduser().parent.parent
    stamp = time.strftime("%Y%m%d_%H%M%S")
    name = f"eval_{stamp}" if evaluate_only else stamp
    path, n = base / name, 1
    while path.exists():
        path, n = base / f"{name}_{n}", n + 1
    return path


def run_job(cfg: Config, evaluate_only: bool = False) -> dict[str, Any]:
    """Train (or only evaluate, also with ``run.evaluate: true``) as the config says; returns the summary.

    Works the same in one process and under ``torchrun``: the process group is created from the
    environment when ``WORLD_SIZE`` > 1 (and ``run.distributed`` is true) and destroyed at the end.
    """
    run = cfg.run_cfg
    evaluate_only = evaluate_only or run.evaluate
    started_group = False
    if run.distributed and not dist.is_initialized():
        started_group = init_distributed_from_env(None if run.dist_backend == "auto" else run.dist_backend)
    try:
        seed_everything(run.seed)  # the same initial weights (and random buffers) on every rank
        task = registry.get_task_class(run.task).setup_task(cfg)
        job_dir = Path(broadcast_object(str(resolve_job_dir(run, evaluate_only)) if is_main_process() else None))
        if is_main_process():
            job_dir.mkdir(parents=True, exist_ok=True)
            (job_dir / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
            logger.info("job directory: %s", job_dir)
        barrier()
        model = task.build_model(cfg)
        wanted = [*run.valid_splits, *run.test_splits, *([] if evaluate_only else run.train_splits)]
        datasets = task.build_datasets(cfg, splits=set(wanted))
        seed_everything(run.seed + get_rank())  # per-rank streams from here on: dropout differs across ranks
        runner = registry.get_runner_class(run.runner)(cfg, task, model, datasets, job_dir)
        return runner.evaluate() if evaluate_only else runner.train()
    finally:
        if started_group:
            dist.destroy_process_group()

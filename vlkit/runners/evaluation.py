"""Evaluation hooks of the runners: evaluating named splits, and picking the best epoch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import Dataset

from vlkit.common.config import ConfigError
from vlkit.common.dist import get_rank, get_world_size
from vlkit.runners.logging import RunLogger
from vlkit.runners.sampling import build_eval_loader
from vlkit.tasks.context import EvalContext

if TYPE_CHECKING:
    from vlkit.tasks.base_task import BaseTask

Metrics = dict[str, dict[str, float]]


class SplitEvaluator:
    """Evaluates splits of every dataset through ``task.evaluation``, each rank on its own shard.

    Args:
        task: Computes per-sample results and metrics (gathers across ranks once).
        datasets: dataset name -> split -> dataset.
        run_cfg: The ``run`` section (``batch_size_eval``, ``num_workers``, ``max_eval_batches``, ``progress``).
        log: Where each split's metrics are recorded (``type: eval``).
        autocast: Context factory for the forward passes (the run's mixed precision).
        device: Where evaluation batches go.
        result_dir: Where the task writes result files (None: nowhere).
    """

    def __init__(
        self,
        task: BaseTask,
        datasets: dict[str, dict[str, Dataset]],
        run_cfg: DictConfig,
        log: RunLogger,
        autocast: Callable[[], Any],
        device: torch.device | None = None,
        result_dir: Path | None = None,
    ) -> None:
        self.task = task
        self.datasets = datasets
        self.run_cfg = run_cfg
        self.rank, self.world_size = get_rank(), get_world_size()
        self.log = log
        self.autocast = autocast
        self.device = device or torch.device("cpu")
        self.result_dir = result_dir

    def __call__(self, model: nn.Module, splits: list[str], step: int, epoch: int, tag: str = "") -> Metrics:
        """Metrics per evaluated split: keyed ``split`` with one dataset, ``name/split`` with several.

        Raises:
            ConfigError: if a split exists in no dataset.
        """
        missing = [s for s in splits if not any(s in ds_splits for ds_splits in self.datasets.values())]
        if missing:
            available = {n: sorted(s) for n, s in self.datasets.items()}
            raise ConfigError(
                f"Split(s) {missing} named in run.valid_splits/run.test_splits exist in no dataset; "
                f"available: {available}."
            )
        out: Metrics = {}
        for name, ds_splits in self.datasets.items():
            for split in splits:
                if split not in ds_splits:
                    continue
                loader = build_eval_loader(
                    ds_splits[split], self.run_cfg.batch_size_eval, self.run_cfg.num_workers, self.rank, self.world_size
                )
                key = split if len(self.datasets) == 1 else f"{name}/{split}"
                ctx = EvalContext(
                    split=key.replace("/", "_"),
                    device=self.device,
                    result_dir=self.result_dir,
                    epoch_tag=tag,
                    dataset=ds_splits[split],
                    max_batches=self.run_cfg.max_eval_batches,
                    progress=self.run_cfg.progress,
                )
                with self.autocast():
                    out[key] = self.task.evaluation(model, loader, ctx)
                self.log.log("eval", step, epoch=epoch, split=key, **out[key])
        return out


def best_candidate(metrics: Metrics, best_metric: str) -> float | None:
    """The value that decides the best epoch: ``best_metric`` of the first evaluated split (None if none).

    Raises:
        ConfigError: if that split has no metric named ``best_metric``.
    """
    if not metrics:
        return None
    first = next(iter(metrics.values()))
    if best_metric not in first:
        raise ConfigError(
            f"run.best_metric={best_metric!r} is not among the metrics of the first valid split: "
            f"{', '.join(sorted(first))}."
        )
    return float(first[best_metric])


def is_better(value: float, best: float | None, mode: str) -> bool:
    """Whether ``value`` beats ``best`` for ``run.best_metric_mode`` (``max`` | ``min``)."""
    return best is None or (value > best if mode == "max" else value < best)

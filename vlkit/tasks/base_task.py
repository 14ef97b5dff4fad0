"""The task: what a training step and an evaluation mean for one kind of job.

The runner owns the loop (optimisation, checkpoints, logging); a task only says how to build the
model and datasets, what one step computes, and how evaluation results become metrics.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import Dataset

from vlkit.common.batch import move_to_device
from vlkit.common.config import Config, RunConfig
from vlkit.common.dist import all_gather_object, broadcast_object, interleave_gathered, is_main_process
from vlkit.common.progress import progress
from vlkit.common.registry import registry
from vlkit.tasks.common import write_results
from vlkit.tasks.context import EvalContext, StepContext

logger = logging.getLogger(__name__)


class BaseTask:
    """Default task: the model's forward is the training step; evaluation averages numeric results.

    The runner talks to a task only through arguments: a :class:`StepContext` per training step and an
    :class:`EvalContext` per evaluated split. A task keeps no runtime state of its own beyond its config.

    Attributes:
        RUN_CONFIG: Dataclass validating the ``run`` section (subclass :class:`RunConfig` to add task keys).
        run_cfg: The validated ``run`` section (set by :meth:`setup_task`).
    """

    RUN_CONFIG: ClassVar[type] = RunConfig

    def __init__(self, cfg: Config | None = None) -> None:
        self.run_cfg = cfg.run_cfg if cfg is not None else None

    @classmethod
    def setup_task(cls, cfg: Config) -> BaseTask:
        """Build the task from the merged config (subclasses read their ``run`` keys here)."""
        return cls(cfg)

    def build_model(self, cfg: Config) -> nn.Module:
        """The model named by ``model.arch``, built by its ``from_config``."""
        model_cls = registry.get_model_class(cfg.model_cfg.arch)
        return model_cls.from_config(cfg.model_cfg)

    def build_datasets(self, cfg: Config, splits: Collection[str] | None = None) -> dict[str, dict[str, Dataset]]:
        """Every ``datasets.<name>`` section through its registered builder: name -> split -> dataset.

        ``splits`` (the run's train/valid/test splits) limits what is built, so files of splits the run
        never reads need not exist. A plugin builder whose ``build_datasets()`` takes no ``splits`` builds all.
        """
        out: dict[str, dict[str, Dataset]] = {}
        for name, ds_cfg in cfg.datasets_cfg.items():
            builder = registry.get_builder_class(name)(ds_cfg, on_bad_sample=cfg.run_cfg.on_bad_sample)
            if splits is not None and "splits" in inspect.signature(builder.build_datasets).parameters:
                out[name] = builder.build_datasets(splits=splits)
            else:
                out[name] = builder.build_datasets()
            self._warn_on_image_size_mismatch(cfg, name, ds_cfg)
        return out

    @staticmethod
    def _warn_on_image_size_mismatch(cfg: Config, name: str, ds_cfg: Any) -> None:
        """Log when a dataset feeds images of another size than ``model.image_size``.

        The ViT accepts them (it interpolates its position embeddings, as BLIP does for VQA at 480 px), so
        this is legal, but an unintended mismatch silently changes both the cost and the result.
        """
        model_size = getattr(cfg.model_cfg, "image_size", None)
        processors = getattr(ds_cfg, "vis_processor", None) or {}
        for kind, proc in processors.items():
            size = proc.get("image_size") if proc is not None else None
            if model_size is not None and size is not None and int(size) != int(model_size):
                logger.warning(
                    "datasets.%s.vis_processor.%s.image_size=%s differs from model.image_size=%s; set them equal "
                    "unless the change of resolution is intended",
                    name,
                    kind,
                    size,
                    model_size,
                )

    def train_step(self, model: nn.Module, samples: dict, ctx: StepContext | None = None) -> Any:
        """One forward pass; the returned output must have a scalar ``.loss``.

        ``ctx`` is where the loop is (None outside it); tasks with schedules (loss weights that change during
        training) compute them from it and pass them to the model as arguments.
        """
        return model(samples)

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        """Per-sample results of one evaluation batch (default: the model's loss, one record per batch)."""
        output = model(samples)
        return [{"loss": float(output.loss)}]

    @torch.no_grad()
    def evaluation(self, model: nn.Module, data_loader: Iterable, ctx: EvalContext | str) -> dict[str, float]:
        """Run :meth:`valid_step` over this rank's shard, gather once, and compute metrics on the main rank.

        Every rank returns the same metrics (broadcast from the main rank). A bare split name as ``ctx`` is an
        :class:`EvalContext` with that split and the loader's dataset (CPU, no result files).
        """
        ctx = eval_context(ctx, data_loader)
        was_training = model.training
        model.eval()
        local: list[dict] = []
        total = len(data_loader) if hasattr(data_loader, "__len__") else None
        if total is not None and ctx.max_batches > 0:
            total = min(total, ctx.max_batches)
        for i, samples in enumerate(progress(data_loader, total, f"eval {ctx.split}", ctx.progress)):
            if ctx.max_batches > 0 and i >= ctx.max_batches:
                break
            local.extend(self.valid_step(model, move_to_device(samples, ctx.device), ctx))
        model.train(was_training)
        gathered = all_gather_object(local)  # the only collective of the evaluation
        metrics: dict[str, float] = {}
        if is_main_process():
            metrics = self.after_evaluation(interleave_gathered(gathered), ctx)
        return broadcast_object(metrics)

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        """Write ``results`` to ``<result_dir>/<split><epoch_tag>.json`` and average their numeric fields.

        Subclasses compute task metrics instead (and set ``agg_metrics`` for best-checkpoint selection).
        """
        write_results(results, ctx.result_dir, ctx.result_name)
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for record in results:
            for key, value in record.items():
                if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                    sums[key] = sums.get(key, 0.0) + float(value)
                    counts[key] = counts.get(key, 0) + 1
        return {key: sums[key] / counts[key] for key in sums}


def eval_context(ctx: EvalContext | str, data_loader: Iterable) -> EvalContext:
    """``ctx`` as an :class:`EvalContext`: a split name becomes a default one; a missing dataset is the loader's."""
    if isinstance(ctx, str):
        ctx = EvalContext(split=ctx)
    if ctx.dataset is None and getattr(data_loader, "dataset", None) is not None:
        ctx = replace(ctx, dataset=data_loader.dataset)
    return ctx

"""BLIP pre-training: the model's forward computes ITC + ITM + LM; evaluation reports the validation losses."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vlkit.common.config import RunConfig
from vlkit.common.registry import registry
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import AlphaRampMixin
from vlkit.tasks.context import EvalContext


@dataclass
class PretrainRunConfig(RunConfig):
    """ITC momentum-distillation weight: ``alpha`` (None = the model config's, 0.4) ramped over 2 epochs."""

    alpha: float | None = None
    alpha_ramp_epochs: float | None = None  # None = DEFAULT_RAMP_EPOCHS


@registry.register_task("image_text_pretrain")
class ImageTextPretrainTask(AlphaRampMixin, BaseTask):
    """Training only needs the base loop; a validation split (if any) is scored by its mean losses."""

    RUN_CONFIG = PretrainRunConfig
    DEFAULT_RAMP_EPOCHS = 2.0

    @torch.no_grad()
    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        out = model(samples)
        return [{"loss": float(out.loss), **out.losses()}]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        metrics = super().after_evaluation(results, ctx)
        if "loss" in metrics:
            metrics["agg_metrics"] = -metrics["loss"]  # higher is better for best-checkpoint selection
        return metrics

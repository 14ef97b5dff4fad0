"""BLIP pre-training: the model's forward computes ITC + ITM + LM; evaluation reports the validation losses."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vlkit.common.registry import registry
from vlkit.tasks.base_task import BaseTask


@registry.register_task("image_text_pretrain")
class ImageTextPretrainTask(BaseTask):
    """Training only needs the base loop; a validation split (if any) is scored by its mean losses."""

    @torch.no_grad()
    def valid_step(self, model: nn.Module, samples: dict) -> list[dict]:
        out = model(samples)
        return [{"loss": float(out.loss), **out.losses()}]

    def after_evaluation(self, results: list[dict], split: str, output_dir: Path | None) -> dict[str, float]:
        metrics = super().after_evaluation(results, split, output_dir)
        if "loss" in metrics:
            metrics["agg_metrics"] = -metrics["loss"]  # higher is better for best-checkpoint selection
        return metrics

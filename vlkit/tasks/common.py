"""Helpers shared by the BLIP tasks."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from torch import nn

from vlkit.tasks.context import StepContext, linear_ramp

logger = logging.getLogger(__name__)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (inference methods live on the model itself)."""
    return model.module if hasattr(model, "module") else model


def write_results(results: Any, output_dir: Path | None, name: str) -> Path | None:
    """Write ``results`` as ``<output_dir>/<name>.json`` (None when no output dir is set)."""
    if output_dir is None:
        return None
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{name}.json"
    path.write_text(json.dumps(results), encoding="utf-8")
    logger.info("wrote %s", path)
    return path


def dedupe(results: list[dict], key: str) -> list[dict]:
    """Keep the first result per ``key`` (distributed evaluation can see an item twice)."""
    seen, out = set(), []
    for r in results:
        if r[key] not in seen:
            seen.add(r[key])
            out.append(r)
    return out


class AlphaRampMixin:
    """``train_step`` that computes the ITC distillation weight and passes it to the model as ``alpha=``.

    The weight ramps linearly from 0 to ``alpha`` over the first ``alpha_ramp_epochs`` epochs (BLIP: 0.4 over
    2 epochs in pre-training, 1 in retrieval). ``run.alpha`` / ``run.alpha_ramp_epochs`` override the model
    config's ``alpha`` and the task's ``DEFAULT_RAMP_EPOCHS``. This is the only place the ramp is computed.
    """

    DEFAULT_RAMP_EPOCHS: float = 1.0

    def alpha_for(self, model: nn.Module, ctx: StepContext | None) -> float:
        """The weight at ``ctx`` (None: outside training, the full weight)."""
        run = self.run_cfg
        alpha = getattr(run, "alpha", None)
        if alpha is None:
            alpha = getattr(getattr(unwrap(model), "config", None), "alpha", 0.4)
        ramp = getattr(run, "alpha_ramp_epochs", None)
        return linear_ramp(ctx, float(alpha), self.DEFAULT_RAMP_EPOCHS if ramp is None else float(ramp))

    def train_step(self, model: nn.Module, samples: dict, ctx: StepContext | None = None) -> Any:
        """The model's forward with the ramped ``alpha``."""
        return model(samples, alpha=self.alpha_for(model, ctx))

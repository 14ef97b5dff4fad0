"""Helpers shared by the BLIP tasks."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from torch import nn

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


def ramped_alpha(samples: dict, alpha: float, ramp_epochs: float) -> float:
    """The ITC distillation weight at this point of training: linear from 0 to ``alpha`` over ``ramp_epochs``.

    The position comes from the runner's ``epoch``/``iters``/``num_iters_per_epoch`` batch keys; without them
    (a batch outside the training loop) the full ``alpha`` is used.
    """
    n = samples.get("num_iters_per_epoch")
    if not n or ramp_epochs <= 0:
        return alpha
    progress = (samples.get("epoch", 0) * n + samples.get("iters", 0)) / (ramp_epochs * n)
    return alpha * min(1.0, progress)


class AlphaRampMixin:
    """``train_step`` that passes the ramped distillation weight to the model as ``samples["alpha"]``.

    ``run.alpha`` / ``run.alpha_ramp_epochs`` override the model config's ``alpha`` (BLIP: 0.4) and the task's
    default ramp length (``DEFAULT_RAMP_EPOCHS``).
    """

    DEFAULT_RAMP_EPOCHS: float = 1.0

    def alpha_for(self, model: nn.Module, samples: dict) -> float:
        """The weight for this batch (run config, else the model config, else BLIP's 0.4)."""
        run = self.run_cfg
        alpha = getattr(run, "alpha", None)
        if alpha is None:
            alpha = getattr(getattr(unwrap(model), "config", None), "alpha", 0.4)
        ramp = getattr(run, "alpha_ramp_epochs", None)
        return ramped_alpha(samples, float(alpha), self.DEFAULT_RAMP_EPOCHS if ramp is None else float(ramp))

    def train_step(self, model: nn.Module, samples: dict) -> Any:
        """The model's forward with ``samples["alpha"]`` set."""
        samples["alpha"] = self.alpha_for(model, samples)
        return model(samples)

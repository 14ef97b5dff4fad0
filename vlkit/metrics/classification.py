"""Exact-match accuracy for classification-style tasks (NLVR², video QA with one answer per question)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import torch


def _as_list(values: Sequence[Hashable] | torch.Tensor | np.ndarray) -> list[Hashable]:
    if isinstance(values, torch.Tensor | np.ndarray):
        return values.tolist()
    return list(values)


def classification_accuracy(
    predictions: Sequence[Hashable] | torch.Tensor | np.ndarray,
    labels: Sequence[Hashable] | torch.Tensor | np.ndarray,
) -> dict[str, float]:
    """Percentage of predictions equal to their label.

    Args:
        predictions: predicted class ids or answer strings.
        labels: the ground truth, same length and type.

    Returns:
        ``accuracy`` (percent), ``num_samples`` and ``agg_metrics`` = ``accuracy``.
    """
    preds, gts = _as_list(predictions), _as_list(labels)
    if len(preds) != len(gts):
        raise ValueError(f"got {len(preds)} predictions for {len(gts)} labels; they must match")
    if not preds:
        raise ValueError("no predictions to evaluate")
    accuracy = 100.0 * sum(p == g for p, g in zip(preds, gts)) / len(preds)
    return {"accuracy": accuracy, "num_samples": float(len(preds)), "agg_metrics": accuracy}

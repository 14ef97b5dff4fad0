"""Visual Dialog v1.0 metrics: ranking metrics of the ground-truth option and NDCG over dense relevance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vlkit.metrics.retrieval import best_positive_ranks, recall_at_k


def _as_matrix(values: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    matrix = torch.as_tensor(values).detach().double().cpu()
    if matrix.dim() != 2:
        raise ValueError(f"{name} must be [rounds, options], got shape {tuple(matrix.shape)}")
    return matrix


def visdial_ranking_metrics(scores: torch.Tensor | np.ndarray, gt_index: Sequence[int]) -> dict[str, float]:
    """MRR, R@1/5/10 and mean rank of the ground-truth answer among the options of each round.

    Args:
        scores: ``[rounds, options]`` (100 options in VisDial); higher is better.
        gt_index: the ground-truth option of each round (0-based).

    Returns:
        ``mrr``, ``r1``, ``r5``, ``r10`` in percent (as the BLIP paper reports MRR 69.41) and ``mean_rank``
        (1-based). Ties are broken against the ground truth.
    """
    matrix = _as_matrix(scores, "scores")
    gt = [[int(i)] for i in gt_index]
    ranks = best_positive_ranks(matrix, gt)
    return {
        "mrr": 100.0 * float(np.mean(1.0 / (ranks + 1))),
        "r1": recall_at_k(ranks, 1),
        "r5": recall_at_k(ranks, 5),
        "r10": recall_at_k(ranks, 10),
        "mean_rank": float(np.mean(ranks + 1)),
    }


def _dcg(relevance_in_order: torch.Tensor) -> float:
    discounts = torch.log2(torch.arange(relevance_in_order.numel(), dtype=torch.float64) + 2.0)
    return float((relevance_in_order / discounts).sum())


def visdial_ndcg(scores: torch.Tensor | np.ndarray, relevance: torch.Tensor | np.ndarray) -> float:
    """NDCG (percent) of the official VisDial v1.0 evaluation, averaged over the given rounds.

    Per round, options are ordered by descending score (ties keep option order); with ``k`` the number of
    options whose relevance is positive, DCG sums ``relevance / log2(position + 1)`` over the first ``k``
    positions and is divided by the DCG of the relevance-sorted ideal order. Rounds without any relevant
    option are skipped.

    Args:
        scores: ``[rounds, options]`` predicted scores.
        relevance: ``[rounds, options]`` dense relevance (``gt_relevance``) of the same rounds.
    """
    pred, rel = _as_matrix(scores, "scores"), _as_matrix(relevance, "relevance")
    if pred.shape != rel.shape:
        raise ValueError(f"scores {tuple(pred.shape)} and relevance {tuple(rel.shape)} must have the same shape")
    values = []
    for row_scores, row_rel in zip(pred, rel):
        k = int((row_rel > 0).sum())
        if k == 0:
            continue
        predicted_order = torch.sort(row_scores, descending=True, stable=True).indices[:k]
        ideal = torch.sort(row_rel, descending=True).values[:k]
        values.append(_dcg(row_rel[predicted_order]) / _dcg(ideal))
    if not values:
        raise ValueError("no round has an option with positive relevance; NDCG is undefined")
    return 100.0 * float(np.mean(values))


def visdial_metrics(
    scores: torch.Tensor | np.ndarray,
    gt_index: Sequence[int],
    dense_scores: torch.Tensor | np.ndarray | None = None,
    dense_relevance: torch.Tensor | np.ndarray | None = None,
) -> dict[str, float]:
    """All VisDial metrics: :func:`visdial_ranking_metrics`, plus ``ndcg`` when dense relevance is given.

    Args:
        scores, gt_index: every evaluated round (see :func:`visdial_ranking_metrics`).
        dense_scores: scores of the rounds that have dense annotations (one per val image).
        dense_relevance: their ``gt_relevance`` rows, aligned with ``dense_scores``.

    Returns:
        The ranking metrics, optional ``ndcg``, and ``agg_metrics`` = ``mrr`` (the metric BLIP reports).
    """
    out = visdial_ranking_metrics(scores, gt_index)
    if (dense_scores is None) != (dense_relevance is None):
        raise ValueError("pass both dense_scores and dense_relevance for NDCG, or neither")
    if dense_scores is not None:
        out["ndcg"] = visdial_ndcg(dense_scores, dense_relevance)
    out["agg_metrics"] = out["mrr"]
    return out

"""VisDial MRR / recall / mean rank and NDCG on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from vlkit.metrics.visdial import visdial_metrics, visdial_ndcg, visdial_ranking_metrics


def test_ranking_metrics_by_hand() -> None:
    scores = torch.zeros(3, 12)
    scores[0] = torch.linspace(1.0, 0.0, 12)  # gt 0 is the best -> rank 1
    scores[1, :] = 0.0
    scores[1, [4, 9]] = 2.0
    scores[1, 5] = 1.0  # gt 5 is beaten by two options -> rank 3
    scores[2, :5] = 3.0
    scores[2, 6] = 1.0
    scores[2, 11] = 1.0  # gt 11 ties with option 6 under five better ones -> rank 7
    out = visdial_ranking_metrics(scores, [0, 5, 11])
    assert out["mrr"] == pytest.approx(100 * (1 + 1 / 3 + 1 / 7) / 3)
    assert out["r1"] == pytest.approx(100 / 3)
    assert out["r5"] == pytest.approx(200 / 3)
    assert out["r10"] == pytest.approx(100.0)
    assert out["mean_rank"] == pytest.approx(11 / 3)


def test_ndcg_by_hand() -> None:
    relevance = torch.tensor([[1.0, 0.5, 0.0, 0.0, 0.5]])  # k = 3 relevant options
    scores = torch.tensor([[0.1, 0.9, 0.8, 0.2, 0.3]])  # predicted order 1, 2, 4, 3, 0
    dcg = 0.5 / math.log2(2) + 0.0 / math.log2(3) + 0.5 / math.log2(4)
    ideal = 1.0 / math.log2(2) + 0.5 / math.log2(3) + 0.5 / math.log2(4)
    assert visdial_ndcg(scores, relevance) == pytest.approx(100 * dcg / ideal)
    assert visdial_ndcg(relevance, relevance) == pytest.approx(100.0)
    # A round with no relevant option is skipped; all such rounds make NDCG undefined.
    both = torch.cat([relevance, torch.zeros(1, 5)])
    assert visdial_ndcg(torch.cat([scores, scores]), both) == pytest.approx(100 * dcg / ideal)
    with pytest.raises(ValueError, match="undefined"):
        visdial_ndcg(scores, torch.zeros(1, 5))


def test_visdial_metrics_combines_and_sets_agg() -> None:
    scores = torch.tensor([[0.2, 0.9, 0.1], [0.8, 0.1, 0.3]])
    out = visdial_metrics(scores, [1, 2], dense_scores=scores[:1], dense_relevance=torch.tensor([[0.0, 1.0, 0.0]]))
    assert out["mrr"] == out["agg_metrics"] == pytest.approx(100 * (1 + 1 / 2) / 2)
    assert out["ndcg"] == pytest.approx(100.0)
    assert "ndcg" not in visdial_metrics(scores, [1, 2])
    with pytest.raises(ValueError, match="both"):
        visdial_metrics(scores, [1, 2], dense_scores=scores)

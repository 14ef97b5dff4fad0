"""Text-video recall, median and mean rank on hand-computed matrices."""

from __future__ import annotations

import pytest
import torch

from vlkit.metrics.video_retrieval import video_retrieval_metrics


def test_hand_computed_square_matrix() -> None:
    t2v = torch.tensor([[0.9, 0.1, 0.2], [0.5, 0.4, 0.6], [0.1, 0.2, 0.3]])
    out = video_retrieval_metrics(t2v)
    # text ranks (1-based): 1, 3, 1; video ranks on the transpose: 1, 1, 2
    assert out["t2v_r1"] == pytest.approx(200 / 3)
    assert out["t2v_r5"] == out["t2v_r10"] == pytest.approx(100.0)
    assert out["t2v_medr"] == 1.0
    assert out["t2v_meanr"] == pytest.approx(5 / 3)
    assert out["v2t_r1"] == pytest.approx(200 / 3)
    assert out["v2t_medr"] == 1.0
    assert out["v2t_meanr"] == pytest.approx(4 / 3)
    assert out["agg_metrics"] == out["r_mean"] == pytest.approx((200 / 3 + 100 + 100) / 3)


def test_video_with_several_captions_counts_its_best_text() -> None:
    t2v = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])  # texts 0,1 describe video 0; text 2 video 1
    out = video_retrieval_metrics(t2v, txt2vid=[0, 0, 1])
    assert out["t2v_r1"] == pytest.approx(200 / 3)  # text 0 misses
    assert out["t2v_medr"] == 1.0
    # video 0 scores texts [0.1, 0.8, 0.3]: text 1 is on top; video 1: [0.9, 0.2, 0.7] -> its text is 2nd
    assert out["v2t_r1"] == pytest.approx(50.0)
    assert out["v2t_meanr"] == pytest.approx(1.5)


def test_non_square_needs_mapping() -> None:
    with pytest.raises(ValueError, match="txt2vid"):
        video_retrieval_metrics(torch.zeros(4, 2))

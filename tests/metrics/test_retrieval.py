"""Retrieval recall from hand-computed ranks, and the ITC top-k / ITM re-rank against a brute-force loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlkit.metrics.retrieval import best_positive_ranks, itc_topk_itm_rerank, rank_slice, retrieval_metrics


def test_hand_computed_ranks_with_multi_caption_rule_and_ties() -> None:
    # Image 0 owns texts 0-1, image 1 owns texts 2-3.
    scores_i2t = np.array([[0.1, 0.9, 0.5, 0.95], [0.3, 0.2, 0.8, 0.1]])
    scores_t2i = np.array([[0.7, 0.7], [0.9, 0.1], [0.6, 0.4], [0.2, 0.3]])
    txt2img = [0, 0, 1, 1]
    img2txt = [[0, 1], [2, 3]]
    # Image 0: its best caption (0.9) is beaten by text 3 (0.95) -> rank 1; image 1 -> rank 0.
    assert best_positive_ranks(scores_i2t, img2txt).tolist() == [1, 0]
    # Text 0 ties with the wrong image: ties count against it.
    assert best_positive_ranks(scores_t2i, [[i] for i in txt2img]).tolist() == [1, 0, 1, 0]

    out = retrieval_metrics(scores_i2t, scores_t2i, txt2img, img2txt)
    assert out["txt_r1"] == pytest.approx(50.0)
    assert out["txt_r5"] == out["txt_r10"] == pytest.approx(100.0)
    assert out["txt_r_mean"] == pytest.approx(250.0 / 3)
    assert out["img_r1"] == pytest.approx(50.0)
    assert out["img_r_mean"] == pytest.approx(250.0 / 3)
    assert out["r_mean"] == out["agg_metrics"] == pytest.approx(250.0 / 3)


def test_ranks_for_k_boundaries_and_positive_ties() -> None:
    row = torch.arange(12, 0, -1, dtype=torch.float32)[None]  # candidate j has the (j+1)-th best score
    assert best_positive_ranks(row, [[7]]).tolist() == [7]
    assert best_positive_ranks(row, [[9, 3]]).tolist() == [3]
    # Two positives tied at the top: the first of them is at position 0.
    assert best_positive_ranks(torch.tensor([[0.9, 0.9, 0.1]]), [[0, 1]]).tolist() == [0]
    # A negative tied with the only positive ranks ahead of it; constant scores never give recall.
    assert best_positive_ranks(torch.tensor([[0.9, 0.9, 0.1]]), [[1]]).tolist() == [1]
    const = retrieval_metrics(torch.zeros(3, 3), torch.zeros(3, 3), [0, 1, 2], [[0], [1], [2]])
    assert const["txt_r1"] == const["img_r1"] == 0.0

    scores = torch.arange(12, 0, -1, dtype=torch.float32).repeat(12, 1)
    out = retrieval_metrics(scores, scores, list(range(12)), [[i] for i in range(12)])
    assert out["txt_r1"] == pytest.approx(100 / 12)
    assert out["txt_r5"] == pytest.approx(500 / 12)
    assert out["img_r10"] == pytest.approx(1000 / 12)


def test_ranks_match_sorting_reference_without_ties() -> None:
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(700, 40, generator=gen)  # > one row chunk
    positives = [[int(i) % 40, (int(i) * 7 + 3) % 40] for i in range(700)]
    expected = []
    for row, pos in zip(scores.numpy(), positives):
        order = np.argsort(-row).tolist()
        expected.append(min(order.index(p) for p in pos))
    assert best_positive_ranks(scores, positives).tolist() == expected


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="no positive"):
        best_positive_ranks(torch.zeros(2, 3), [[0], []])
    with pytest.raises(ValueError, match="outside"):
        best_positive_ranks(torch.zeros(1, 3), [[3]])
    with pytest.raises(ValueError, match="must match"):
        best_positive_ranks(torch.zeros(2, 3), [[0]])


def _itm(rows: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
    return torch.sin(7.0 * rows.float().unsqueeze(1) + 1.3 * cand.float())


def _brute_force_rerank(sims: torch.Tensor, k: int, rows: range) -> torch.Tensor:
    out = torch.full_like(sims, -100.0)
    for r in rows:
        order = sorted(range(sims.shape[1]), key=lambda j: -float(sims[r, j]))[:k]
        for j in order:
            out[r, j] = float(_itm(torch.tensor([r]), torch.tensor([[j]]))[0, 0]) + sims[r, j]
    return out


def test_rerank_matches_brute_force_loop() -> None:
    sims = torch.randn(9, 13, generator=torch.Generator().manual_seed(1))
    got = itc_topk_itm_rerank(sims, k=4, itm_score_fn=_itm)
    torch.testing.assert_close(got, _brute_force_rerank(sims, 4, range(9)))
    calls: list[int] = []  # rows per call: as many as pairs_per_call allows, at least one
    for pairs, expected in ((8, [2, 2, 2, 2, 1]), (1, [1] * 9), (1000, [9])):
        calls.clear()
        got = itc_topk_itm_rerank(sims, 4, lambda r, c: calls.append(len(r)) or _itm(r, c), pairs_per_call=pairs)
        assert calls == expected
        torch.testing.assert_close(got, _brute_force_rerank(sims, 4, range(9)))
    # k larger than the candidate count re-scores every column.
    assert (itc_topk_itm_rerank(sims, k=50, itm_score_fn=_itm) > -50).all()


def test_rerank_split_across_ranks_sums_to_shifted_full_matrix() -> None:
    sims = torch.randn(10, 6, generator=torch.Generator().manual_seed(2))
    world = 3
    seen_rows: list[int] = []

    def itm(rows: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
        seen_rows.extend(rows.tolist())
        return _itm(rows, cand)

    parts = [itc_topk_itm_rerank(sims, 3, itm, rank=r, world_size=world) for r in range(world)]
    assert sorted(seen_rows) == list(range(10))
    for r, part in enumerate(parts):
        owned = list(rank_slice(10, r, world))
        others = [i for i in range(10) if i not in owned]
        assert (part[others] == -100.0).all()
        torch.testing.assert_close(part[owned], _brute_force_rerank(sims, 3, range(10))[owned])
    # The all-reduce (sum) shifts each row by a constant, so rankings equal the single-process ones.
    summed = torch.stack(parts).sum(0)
    torch.testing.assert_close(summed, itc_topk_itm_rerank(sims, 3, _itm) + (world - 1) * -100.0)


def test_rank_slice_covers_rows_once() -> None:
    covered = [i for r in range(4) for i in rank_slice(10, r, 4)]
    assert covered == list(range(10))
    assert list(rank_slice(2, 3, 4)) == []
    with pytest.raises(ValueError):
        rank_slice(10, 4, 4)


def test_rerank_rejects_wrong_score_count() -> None:
    with pytest.raises(ValueError, match="expected 4"):
        itc_topk_itm_rerank(torch.randn(2, 5), 2, lambda rows, cand: torch.zeros(3))


def test_row_key_groups_rows_into_calls_by_key_without_changing_scores() -> None:
    sims = torch.randn(9, 13, generator=torch.Generator().manual_seed(1))
    key = torch.tensor([5, 1, 4, 1, 3, 9, 2, 6, 0])
    seen: list[list[int]] = []
    got = itc_topk_itm_rerank(
        sims, 4, lambda r, c: seen.append(r.tolist()) or _itm(r, c), pairs_per_call=8, row_key=key
    )
    assert seen == [[8, 1], [3, 6], [4, 2], [0, 7], [5]]  # ascending key, ties in row order
    torch.testing.assert_close(got, _brute_force_rerank(sims, 4, range(9)))

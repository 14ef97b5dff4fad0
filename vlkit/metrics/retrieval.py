"""Image-text retrieval metrics (recall@K from score matrices) and BLIP's ITC top-k / ITM re-ranking.

Ranks follow the BLIP/LAVIS protocol: a query is ranked by where its first positive appears when the
candidates are sorted by descending score; for image→text an image counts its best-ranked caption.
Ties are broken against the positive (a negative scoring exactly as high as the best positive ranks
ahead of it), so a constant score matrix scores recall 0 rather than a lucky 100.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

#: Rows compared at once when counting ranks; bounds the boolean temporaries of big (5k x 25k) matrices.
_ROW_CHUNK = 512


def _as_float_tensor(scores: torch.Tensor | np.ndarray) -> torch.Tensor:
    return torch.as_tensor(scores).detach().float().cpu()


def best_positive_ranks(scores: torch.Tensor | np.ndarray, positives: Sequence[Sequence[int]]) -> np.ndarray:
    """0-based rank of the best-scored positive of every query row.

    Args:
        scores: ``[num_queries, num_candidates]``; higher is better.
        positives: for each query, the candidate indices that count as correct (at least one).

    Returns:
        ``int64`` array ``[num_queries]``: the number of negatives scoring at least as high as the best
        positive (ties count against the query), i.e. its 0-based position in the sorted candidate list.
    """
    matrix = _as_float_tensor(scores)
    if matrix.dim() != 2:
        raise ValueError(f"scores must be a 2-D [queries, candidates] matrix, got shape {tuple(matrix.shape)}")
    num_queries, num_candidates = matrix.shape
    if len(positives) != num_queries:
        raise ValueError(f"got {len(positives)} positive lists for {num_queries} score rows; they must match")
    ranks = np.empty(num_queries, dtype=np.int64)
    for start in range(0, num_queries, _ROW_CHUNK):
        block = matrix[start : start + _ROW_CHUNK]
        is_positive = torch.zeros_like(block, dtype=torch.bool)
        for offset, cols in enumerate(positives[start : start + _ROW_CHUNK]):
            cols = list(cols)
            if not cols:
                raise ValueError(f"query {start + offset} has no positive candidate")
            if min(cols) < 0 or max(cols) >= num_candidates:
                raise ValueError(f"query {start + offset} names candidate indices {cols} outside [0, {num_candidates})")
            is_positive[offset, cols] = True
        best = block.masked_fill(~is_positive, -math.inf).amax(dim=1, keepdim=True)
        ahead = (block >= best) & ~is_positive
        ranks[start : start + block.shape[0]] = ahead.sum(dim=1).numpy()
    return ranks


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Percentage of queries whose 0-based rank is below ``k``."""
    return 100.0 * float(np.mean(ranks < k))


def retrieval_metrics(
    scores_i2t: torch.Tensor | np.ndarray,
    scores_t2i: torch.Tensor | np.ndarray,
    txt2img: Sequence[int],
    img2txt: Sequence[Sequence[int]],
) -> dict[str, float]:
    """COCO/Flickr retrieval recall, as BLIP reports it.

    Args:
        scores_i2t: ``[N_img, N_txt]`` image→text scores.
        scores_t2i: ``[N_txt, N_img]`` text→image scores.
        txt2img: image index of every text.
        img2txt: text indices of every image (an image is retrieved correctly by any of its captions).

    Returns:
        Percentages ``txt_r1, txt_r5, txt_r10, txt_r_mean`` (text retrieval, image queries),
        ``img_r1, img_r5, img_r10, img_r_mean`` (image retrieval, text queries), ``r_mean`` (mean of the
        two means) and ``agg_metrics`` = ``r_mean``.
    """
    i2t_ranks = best_positive_ranks(scores_i2t, img2txt)
    t2i_ranks = best_positive_ranks(scores_t2i, [[int(i)] for i in txt2img])
    out: dict[str, float] = {}
    for prefix, ranks in (("txt", i2t_ranks), ("img", t2i_ranks)):
        for k in (1, 5, 10):
            out[f"{prefix}_r{k}"] = recall_at_k(ranks, k)
        out[f"{prefix}_r_mean"] = (out[f"{prefix}_r1"] + out[f"{prefix}_r5"] + out[f"{prefix}_r10"]) / 3
    out["r_mean"] = (out["txt_r_mean"] + out["img_r_mean"]) / 2
    out["agg_metrics"] = out["r_mean"]
    return out


def rank_slice(num_rows: int, rank: int = 0, world_size: int = 1) -> range:
    """The contiguous block of rows that ``rank`` of ``world_size`` processes scores (ceil-sized blocks)."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    step = -(-num_rows // world_size)
    start = min(num_rows, rank * step)
    return range(start, min(num_rows, start + step))


def itc_topk_itm_rerank(
    sims: torch.Tensor,
    k: int,
    itm_score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    rank: int = 0,
    world_size: int = 1,
    fill_value: float = -100.0,
    pairs_per_call: int = 256,
    row_key: torch.Tensor | None = None,
) -> torch.Tensor:
    """Re-rank each row's top-``k`` ITC candidates with the ITM head, as BLIP's retrieval evaluation does.

    BLIP scores one query's ``k`` candidates per forward pass; here several queries share one pass (up to
    ``pairs_per_call`` pairs), which gives the same scores (up to float summation order) with far fewer,
    larger forward passes.

    Args:
        sims: ``[rows, cols]`` ITC similarities (queries x candidates).
        k: candidates re-scored per row (``k_test``; clipped to the number of columns).
        itm_score_fn: ``(rows [R] LongTensor, candidates [R, k] LongTensor) -> [R, k]`` ITM scores (BLIP
            uses the ITM "match" logit) of each query row against its candidates; the model provides it.
        rank: this process's rank; it fills only its own block of rows (:func:`rank_slice`).
        world_size: number of processes sharing the rows.
        fill_value: score of every entry that was not re-scored.
        pairs_per_call: most (query, candidate) pairs per ``itm_score_fn`` call (at least one row's ``k``).
        row_key: ``[rows]``: rows are grouped into calls in the order of this key (e.g. the query's text length,
            so a call pads its texts little); scores do not depend on the grouping.

    Returns:
        ``[rows, cols]`` matrix on ``sims``' device: ``itm + itc`` at each row's top-``k`` columns and
        ``fill_value`` elsewhere, including rows owned by other ranks. Callers running distributed
        all-reduce (sum) the matrices of all ranks: that shifts each row by a constant
        ``(world_size - 1) * fill_value``, which leaves every ranking unchanged.
    """
    if sims.dim() != 2:
        raise ValueError(f"sims must be a 2-D [queries, candidates] matrix, got shape {tuple(sims.shape)}")
    if k < 1:
        raise ValueError(f"k (k_test) must be >= 1, got {k}")
    k = min(k, sims.shape[1])
    out = torch.full_like(sims, fill_value)
    owned = rank_slice(sims.shape[0], rank, world_size)
    if not owned:
        return out
    rows = torch.arange(owned.start, owned.stop, device=sims.device)
    if row_key is not None:
        rows = rows[torch.argsort(row_key[rows].to(sims.device), stable=True)]
    topk_sim, topk_idx = sims[rows].topk(k=k, dim=1)
    step = max(1, pairs_per_call // k)
    for s in range(0, len(rows), step):
        r, cand = rows[s : s + step], topk_idx[s : s + step]
        itm = torch.as_tensor(itm_score_fn(r, cand)).to(device=sims.device, dtype=sims.dtype)
        if itm.numel() != cand.numel():
            raise ValueError(
                f"itm_score_fn returned {itm.numel()} scores for rows {int(r[0])}-{int(r[-1])}, "
                f"expected {cand.numel()} ({len(r)} rows x {k})"
            )
        out[r.unsqueeze(1), cand] = itm.reshape(cand.shape) + topk_sim[s : s + step]
    return out

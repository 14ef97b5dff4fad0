"""Text-video retrieval metrics (MSRVTT style): recall@K plus median and mean rank in both directions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from vlkit.metrics.retrieval import best_positive_ranks, recall_at_k


def _direction_metrics(prefix: str, ranks: np.ndarray) -> dict[str, float]:
    one_based = ranks + 1
    out = {f"{prefix}_r{k}": recall_at_k(ranks, k) for k in (1, 5, 10)}
    out[f"{prefix}_medr"] = float(np.median(one_based))
    out[f"{prefix}_meanr"] = float(np.mean(one_based))
    return out


def video_retrieval_metrics(
    scores_t2v: torch.Tensor | np.ndarray,
    txt2vid: Sequence[int] | None = None,
    scores_v2t: torch.Tensor | np.ndarray | None = None,
    vid2txt: Sequence[Sequence[int]] | None = None,
) -> dict[str, float]:
    """Recall@1/5/10 (percent), median and mean rank (1-based) for text→video and video→text.

    Args:
        scores_t2v: ``[N_txt, N_vid]`` text→video scores.
        txt2vid: video index of each text; defaults to the identity (MSRVTT 1k-A: text i ↔ video i).
        scores_v2t: ``[N_vid, N_txt]``; defaults to ``scores_t2v`` transposed.
        vid2txt: text indices of each video (a video query counts its best-ranked text); derived from
            ``txt2vid`` when omitted.

    Returns:
        ``t2v_r1, t2v_r5, t2v_r10, t2v_medr, t2v_meanr`` and the same for ``v2t``; ``r_mean`` (mean of the six
        recalls) and ``agg_metrics`` = ``r_mean``. Ties are broken against the correct item.
    """
    t2v = torch.as_tensor(scores_t2v)
    num_txt, num_vid = t2v.shape
    if txt2vid is None:
        if num_txt != num_vid:
            raise ValueError(f"txt2vid is required when texts ({num_txt}) and videos ({num_vid}) differ in number")
        txt2vid = list(range(num_txt))
    if len(txt2vid) != num_txt:
        raise ValueError(f"txt2vid has {len(txt2vid)} entries for {num_txt} texts")
    if vid2txt is None:
        grouped: list[list[int]] = [[] for _ in range(num_vid)]
        for txt, vid in enumerate(txt2vid):
            grouped[int(vid)].append(txt)
        vid2txt = grouped
    v2t = t2v.t() if scores_v2t is None else scores_v2t
    out = _direction_metrics("t2v", best_positive_ranks(t2v, [[int(v)] for v in txt2vid]))
    out.update(_direction_metrics("v2t", best_positive_ranks(v2t, vid2txt)))
    recalls = [out[f"{d}_r{k}"] for d in ("t2v", "v2t") for k in (1, 5, 10)]
    out["r_mean"] = float(np.mean(recalls))
    out["agg_metrics"] = out["r_mean"]
    return out

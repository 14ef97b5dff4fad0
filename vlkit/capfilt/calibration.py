"""``capfilt.itm_threshold: auto`` (vlkit's extension; the paper filters at 0.5): the filter's threshold
calibrated on held-out human pairs.

A short fine-tuning can leave an ITM head that ranks pairs well but sits below or above 0.5 for all of
them (the tiny filters of the quickstart do). Calibration scores held-out human-annotated pairs the filter
never trained on: every (image, one of its captions) as a match, and every image with a caption of another
held-out image (the next one with a different text) as a mismatch. Two rules (``capfilt.calibration_rule``):

- ``keep_matches`` (default): the threshold that keeps ``capfilt.calibration_keep`` (0.9) of the held-out
  matches, i.e. a text is removed when the filter finds it less likely to match its image than 90 % of
  human captions match theirs. Web texts are shorter and vaguer than human captions, so a rule fitted to
  how well the filter separates human matches from human mismatches sits too high for them; a quantile of
  the match scores alone does not depend on how easy the mismatches are, and it is a quantile of a few
  hundred scores rather than the argmax of a noisy difference.
- ``youden``: the threshold that tells matches and mismatches apart best (maximises the true-match rate
  minus the mismatch-pass rate, Youden's J), halfway between the two scores it falls between.

Measured on four tiny filters (the quickstart's and the fast reproduction's three seeds; docs/capfilt.md):
``keep_matches`` at 0.9 gave noise precision 0.82-0.92 and clean web texts kept 0.80-0.92, where
``youden`` gave 0.69-0.89 and 0.62-0.89.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vlkit.capfilt.config import CapFiltConfig

ScoreFn = Callable[[list[str], list[str]], list[float]]  # (image paths, texts) -> match probabilities


def heldout_pairs(cfg: CapFiltConfig) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(matching, mismatching) (image path, text) pairs of ``capfilt.data.heldout_annotations``.

    Raises:
        ValueError: naming the file and the entry for a missing ``image``/``caption`` or too few images.
    """
    path = Path(str(cfg.data.heldout_annotations))
    if not path.is_file():
        raise FileNotFoundError(f"capfilt.data.heldout_annotations: {path} does not exist.")
    root = Path(cfg.data.heldout_images_root or path.parent)
    images: list[tuple[str, list[str]]] = []
    for i, entry in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        if not isinstance(entry, dict) or "image" not in entry or not entry.get("caption"):
            raise ValueError(f"{path}: entry {i} needs 'image' and a non-empty 'caption' (text or list of texts).")
        caps = entry["caption"] if isinstance(entry["caption"], list) else [entry["caption"]]
        images.append((str(root / entry["image"]), [str(c) for c in caps]))
    if len(images) < 2:
        raise ValueError(f"{path}: calibration needs at least 2 held-out images, found {len(images)}.")
    matches = [(img, c) for img, caps in images for c in caps]
    mismatches = []
    for i, (img, caps) in enumerate(images):
        own = set(caps)
        for k in range(1, len(images)):  # the next image whose captions differ from this one's
            other = images[(i + k) % len(images)][1]
            if not own.intersection(other):
                mismatches += [(img, c) for c in other[: len(caps)]]
                break
    return matches, mismatches


def youden_threshold(matches: list[float], mismatches: list[float]) -> dict[str, float]:
    """The threshold maximising (matches kept) − (mismatches kept), with both rates at it."""
    if not matches or not mismatches:
        raise ValueError("calibration needs scores of both matching and mismatching pairs")
    cuts = sorted(set(matches) | set(mismatches))
    candidates = [cuts[0]] + [(a + b) / 2 for a, b in zip(cuts, cuts[1:])] + [cuts[-1] + 1e-6]
    pos, neg = torch.tensor(matches), torch.tensor(mismatches)
    best = (-2.0, 0.5, 0.0, 0.0)
    for t in candidates:
        tpr, fpr = (pos >= t).float().mean().item(), (neg >= t).float().mean().item()
        if tpr - fpr > best[0]:
            best = (tpr - fpr, t, tpr, fpr)
    return {"threshold": round(best[1], 6), "matches_kept": round(best[2], 4), "mismatches_kept": round(best[3], 4)}


def keep_matches_threshold(matches: list[float], mismatches: list[float], keep: float) -> dict[str, float]:
    """The highest threshold that keeps at least ``keep`` of the matches, with both rates at it."""
    if not matches or not mismatches:
        raise ValueError("calibration needs scores of both matching and mismatching pairs")
    ordered = sorted(matches, reverse=True)
    t = ordered[max(0, math.ceil(keep * len(ordered)) - 1)]
    pos, neg = torch.tensor(matches), torch.tensor(mismatches)
    tpr, fpr = (pos >= t).float().mean().item(), (neg >= t).float().mean().item()
    t6 = math.floor(t * 1e6) / 1e6  # rounded down: the match the threshold came from stays kept
    return {"threshold": t6, "matches_kept": round(tpr, 4), "mismatches_kept": round(fpr, 4)}


def calibrate(cfg: CapFiltConfig, score: ScoreFn) -> dict[str, Any]:
    """The calibrated threshold and what it was computed from (``report.json``'s ``calibration``)."""
    matches, mismatches = heldout_pairs(cfg)
    pairs = matches + mismatches
    scores = score([p for p, _ in pairs], [t for _, t in pairs])
    pos, neg = scores[: len(matches)], scores[len(matches) :]
    if cfg.calibration_rule == "youden":
        rule, result = "youden_j on held-out human pairs", youden_threshold(pos, neg)
    else:
        rule = f"keep {cfg.calibration_keep:g} of held-out human matches"
        result = keep_matches_threshold(pos, neg, cfg.calibration_keep)
    return {
        "rule": rule,
        "heldout_annotations": str(cfg.data.heldout_annotations),
        "matching_pairs": len(pos),
        "mismatching_pairs": len(neg),
        "mean_match_score": round(sum(pos) / len(pos), 4),
        "mean_mismatch_score": round(sum(neg) / len(neg), 4),
        **result,
    }


__all__ = ["calibrate", "heldout_pairs", "keep_matches_threshold", "youden_threshold"]

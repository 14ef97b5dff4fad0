"""VQA accuracy with the official answer normalisation and the 10-choose-9 annotator averaging."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from vlkit.metrics.vqa_normalize import clean_whitespace, normalize_answer, process_punctuation

logger = logging.getLogger(__name__)

GtNormalization = Literal["official", "full"]


def answer_accuracy(prediction: str, gt_answers: Sequence[str]) -> float:
    """Accuracy of one already-normalised prediction against already-normalised annotator answers, in [0, 1].

    With ``n > 1`` answers this is the mean over the ``n`` leave-one-out subsets of
    ``min(#matches in subset / 3, 1)`` (10-choose-9 for VQAv2). A single answer is scored by exact match.
    """
    if not gt_answers:
        raise ValueError("a question needs at least one ground-truth answer")
    if len(gt_answers) == 1:
        return float(prediction == gt_answers[0])
    total_matches = sum(answer == prediction for answer in gt_answers)
    accuracy = 0.0
    for answer in gt_answers:
        matches_without_this_annotator = total_matches - (answer == prediction)
        accuracy += min(matches_without_this_annotator / 3.0, 1.0)
    return accuracy / len(gt_answers)


def _normalize_gt(answers: list[str], mode: GtNormalization) -> list[str]:
    answers = [clean_whitespace(a) for a in answers]
    if mode == "full":
        return [normalize_answer(a) for a in answers]
    # The reference script only runs the punctuation step on ground truth, and only when annotators disagree.
    if len(set(answers)) > 1:
        return [process_punctuation(a) for a in answers]
    return answers


def _load_annotations(annotations: Mapping[str, Any] | Sequence[Mapping[str, Any]] | str | Path) -> dict[Any, dict]:
    """``question_id`` → ``{"answers": [str], "answer_type": str | None}`` from any supported layout."""
    if isinstance(annotations, str | Path):
        with open(annotations, encoding="utf-8") as f:
            annotations = json.load(f)
    if isinstance(annotations, Mapping):
        if "annotations" not in annotations:
            raise ValueError("an annotations dict must be the official VQA json with an 'annotations' list")
        annotations = annotations["annotations"]
    table: dict[Any, dict] = {}
    for item in annotations:
        raw = item.get("answers", item.get("answer"))
        if raw is None:
            raise ValueError(f"question {item.get('question_id')!r} has no 'answers' (or 'answer') field")
        if isinstance(raw, str):
            raw = [raw]
        answers = [a["answer"] if isinstance(a, Mapping) else a for a in raw]
        table[item["question_id"]] = {"answers": answers, "answer_type": item.get("answer_type")}
    return table


def vqa_accuracy(
    predictions: Sequence[Mapping[str, Any]],
    annotations: Mapping[str, Any] | Sequence[Mapping[str, Any]] | str | Path,
    gt_normalization: GtNormalization = "official",
) -> dict[str, float]:
    """VQA accuracy in percent, overall and per answer type.

    Args:
        predictions: ``[{"question_id", "answer"}]``, one per question.
        annotations: the official annotations json (dict with ``"annotations"``, or its path), or a list of
            ``{"question_id", "answers": [10 str] | [{"answer": str}], "answer_type"?}`` (``"answer"`` is
            accepted for ``"answers"``, as in BLIP's ``vqa_val.json``).
        gt_normalization: ``"official"`` reproduces the reference script (ground truth only gets the
            punctuation step, and only when annotators disagree); ``"full"`` normalises ground truth like
            predictions, for custom datasets whose answers were not written in normalised form.

    Returns:
        ``overall`` and one key per answer type present (e.g. ``yes/no``, ``number``, ``other``), all
        percentages; ``num_questions``; ``agg_metrics`` = ``overall``.
    """
    if gt_normalization not in ("official", "full"):
        raise ValueError(f"gt_normalization must be 'official' or 'full', got {gt_normalization!r}")
    if not predictions:
        raise ValueError("no predictions to evaluate")
    table = _load_annotations(annotations)
    seen: set[Any] = set()
    overall: list[float] = []
    per_type: dict[str, list[float]] = defaultdict(list)
    for pred in predictions:
        qid = pred["question_id"]
        if qid not in table:
            raise KeyError(f"prediction for question_id {qid!r} has no ground truth in the annotations")
        if qid in seen:
            raise ValueError(f"question_id {qid!r} is predicted more than once")
        seen.add(qid)
        entry = table[qid]
        acc = answer_accuracy(normalize_answer(str(pred["answer"])), _normalize_gt(entry["answers"], gt_normalization))
        overall.append(acc)
        if entry["answer_type"] is not None:
            per_type[entry["answer_type"]].append(acc)
    if len(seen) < len(table):
        logger.warning("VQA accuracy covers %d of %d annotated questions", len(seen), len(table))
    out = {"overall": 100.0 * sum(overall) / len(overall)}
    out.update({name: 100.0 * sum(accs) / len(accs) for name, accs in sorted(per_type.items())})
    out["num_questions"] = float(len(overall))
    out["agg_metrics"] = out["overall"]
    return out

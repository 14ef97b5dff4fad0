"""Upload files for evaluation servers: what an evaluation over a split without answers writes.

The servers score hidden answers and take one JSON list per split:
- captioning (NoCaps val/test on EvalAI, COCO test): ``[{"image_id": int, "caption": str}]``;
- VQAv2 test-dev / test-std (EvalAI): ``[{"question_id": int, "answer": str}]``.

Each record holds exactly those two keys, one per image (question), sorted by id. A file that misses some of
the split's ids (``run.max_eval_batches``, a skipped bad image) is still written, with a warning: the
server rejects it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmissionFormat:
    """The two keys of a server's records and where the file goes."""

    id_key: str
    value_key: str
    server: str


CAPTION_SUBMISSION = SubmissionFormat("image_id", "caption", "the NoCaps server linked from nocaps.org (EvalAI)")
VQA_SUBMISSION = SubmissionFormat("question_id", "answer", "the VQA challenge server linked from visualqa.org (EvalAI)")


def submission_records(results: list[dict], fmt: SubmissionFormat) -> list[dict]:
    """``results`` reduced to the server's two keys (int id, str value), one per id, sorted by id."""
    seen: dict[int, str] = {}
    for r in results:
        seen.setdefault(int(r[fmt.id_key]), str(r[fmt.value_key]))
    return [{fmt.id_key: i, fmt.value_key: seen[i]} for i in sorted(seen)]


def write_submission(
    results: list[dict],
    output_dir: Path | None,
    name: str,
    fmt: SubmissionFormat,
    expected_ids: Iterable[int] | None = None,
) -> Path | None:
    """Write ``<output_dir>/submission/<name>.json`` in the server's format; returns its path (None: no dir).

    Args:
        results: The evaluation's per-item results (holding at least the format's two keys).
        output_dir: The evaluation's result directory.
        name: The file's stem (the split and epoch tag).
        fmt: The server's format.
        expected_ids: Every id of the split; those without a result are reported (the server would reject it).
    """
    if output_dir is None:
        return None
    records = submission_records(results, fmt)
    path = output_dir / "submission" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records), encoding="utf-8")
    missing = sorted(set(expected_ids) - {r[fmt.id_key] for r in records}) if expected_ids is not None else []
    if missing:
        logger.warning(
            "%s is incomplete: no result for %d %s(s) of the split (e.g. %s); the server rejects a partial file "
            "(evaluate without run.max_eval_batches, and fix or remove bad images)",
            path,
            len(missing),
            fmt.id_key,
            missing[:3],
        )
    logger.info(
        "the split has no answers: wrote %d results to upload to the server (%s): %s", len(records), fmt.server, path
    )
    return path


__all__ = ["CAPTION_SUBMISSION", "VQA_SUBMISSION", "SubmissionFormat", "submission_records", "write_submission"]

"""The bad-sample policy: ``error`` (stop, naming the file) or ``skip`` (count and log every skip)."""

from __future__ import annotations

import logging
from collections import Counter

logger = logging.getLogger("vlkit.data")

POLICIES = ("error", "skip")


def resolve_policy(requested: str, dataset_default: str) -> str:
    """``auto`` → the dataset's default (error for curated datasets, skip for web-scale ones)."""
    policy = dataset_default if requested in ("auto", None, "") else requested
    if policy not in POLICIES:
        raise ValueError(f"on_bad_sample must be auto, error or skip (run.on_bad_sample), got {requested!r}")
    return policy


class BadSampleCounter:
    """Counts skipped samples by reason and logs each one. Picklable (lives in DataLoader workers too)."""

    def __init__(self, dataset: str) -> None:
        """Args: dataset: the dataset's name, used in every log line."""
        self.dataset = dataset
        self.by_reason: Counter[str] = Counter()

    def record(self, source: str, reason: str, kind: str | None = None) -> None:
        """Count one skipped sample under ``kind`` (default: ``reason`` up to its first parenthesis) and log it."""
        self.by_reason[kind or reason.split(" (")[0]] += 1
        logger.warning("%s: skipped bad sample %s: %s", self.dataset, source, reason)

    def merge(self, other: BadSampleCounter) -> None:
        """Add another counter's counts (e.g. one returned by a DataLoader worker)."""
        self.by_reason.update(other.by_reason)

    def summary(self) -> str:
        """``"3 skipped (image file not found: 2, cannot decode image: 1)"`` for the epoch summary."""
        parts = ", ".join(f"{k}: {v}" for k, v in self.by_reason.most_common())
        return f"{self.total} skipped ({parts})" if self.total else "0 skipped"

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def __repr__(self) -> str:
        return f"BadSampleCounter({self.dataset!r}, total={self.total}, by_reason={dict(self.by_reason)})"

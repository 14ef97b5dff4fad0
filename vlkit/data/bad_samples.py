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
        self.dataset = dataset
        self.by_reason: Counter[str] = Counter()

    def record(self, source: str, reason: str) -> None:
        self.by_reason[reason.split(" (")[0]] += 1
        logger.warning("%s: skipped bad sample %s: %s", self.dataset, source, reason)

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def __repr__(self) -> str:
        return f"BadSampleCounter({self.dataset!r}, total={self.total}, by_reason={dict(self.by_reason)})"

"""The bad-sample policy: ``error`` (stop, naming the file) or ``skip`` (count and log every skip)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

logger = logging.getLogger("vlkit.data")

POLICIES = ("error", "skip")


def resolve_policy(requested: str, dataset_default: str) -> str:
    """``auto`` → the dataset's default (error for curated datasets, skip for web-scale ones)."""
    policy = dataset_default if requested in ("auto", None, "") else requested
    if policy not in POLICIES:
        raise ValueError(f"on_bad_sample must be auto, error or skip (run.on_bad_sample), got {requested!r}")
    return policy


@dataclass(frozen=True)
class Skipped:
    """Returned by a dataset in place of a sample it skipped, so the count reaches the training loop.

    DataLoader workers are other processes: their counters never reach the runner, but what they return
    does. The collater drops these markers and sums them into the batch (``num_skipped``, ``skipped``).

    Attributes:
        kind: The reason's category (``cannot decode image``, ``shard ends mid-record``).
        where: The dataset split, or the shard, it happened in.
        samples: Samples it cost (0 for a shard-level event such as an empty shard).
    """

    kind: str
    where: str
    samples: int = 1

    def __bool__(self) -> bool:  # ``if sample:`` treats it like the ``None`` it replaces
        return False


class BadSampleCounter:
    """Counts skipped samples by reason and logs each one. Picklable (lives in DataLoader workers too)."""

    def __init__(self, dataset: str) -> None:
        """Args: dataset: the dataset's name, used in every log line."""
        self.dataset = dataset
        self.by_reason: Counter[str] = Counter()
        self.by_where: dict[str, Counter[str]] = {}  # shard (or split) -> reason -> count

    def record(self, source: str, reason: str, kind: str | None = None, where: str | None = None) -> Skipped:
        """Count one skip under ``kind`` (default: ``reason`` up to its first parenthesis) and log it.

        Returns the :class:`Skipped` marker a dataset returns in its place (``where``: default the dataset).
        """
        kind = kind or reason.split(" (")[0]
        where = where or self.dataset
        self.by_reason[kind] += 1
        self.by_where.setdefault(where, Counter())[kind] += 1
        logger.warning("%s: skipped bad sample %s: %s", self.dataset, source, reason)
        return Skipped(kind, where)

    def merge(self, other: BadSampleCounter) -> None:
        """Add another counter's counts (e.g. one returned by a DataLoader worker)."""
        self.by_reason.update(other.by_reason)
        for where, counts in other.by_where.items():
            self.by_where.setdefault(where, Counter()).update(counts)

    def summary(self) -> str:
        """``"3 skipped (image file not found: 2, cannot decode image: 1)"`` for the epoch summary."""
        parts = ", ".join(f"{k}: {v}" for k, v in self.by_reason.most_common())
        return f"{self.total} skipped ({parts})" if self.total else "0 skipped"

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def __repr__(self) -> str:
        return f"BadSampleCounter({self.dataset!r}, total={self.total}, by_reason={dict(self.by_reason)})"


def count_skipped(samples: list) -> tuple[list, int, dict[str, dict[str, int]]]:
    """Split a batch's samples into the kept ones, the samples skipped, and skip events by reason and place.

    ``None`` (a skip from a dataset that returns no marker) counts as one sample of reason ``unknown``.
    """
    kept, num_skipped, events = [], 0, {}
    for sample in samples:
        if sample is None:
            sample = Skipped("unknown", "unknown")
        if isinstance(sample, Skipped):
            num_skipped += sample.samples
            by_where = events.setdefault(sample.kind, {})
            by_where[sample.where] = by_where.get(sample.where, 0) + 1
        else:
            kept.append(sample)
    return kept, num_skipped, events


def merge_skip_events(into: dict[str, dict[str, int]], events: dict[str, dict[str, int]]) -> None:
    """Add ``events`` (reason -> where -> count) into ``into``."""
    for kind, by_where in events.items():
        target = into.setdefault(kind, {})
        for where, n in by_where.items():
            target[where] = target.get(where, 0) + n


def format_skip_events(events: dict[str, dict[str, int]]) -> str:
    """``cannot decode image: 2 (shard-000.tar: 2); empty shard: 1 (shard-007.tar: 1)`` for the epoch log line."""
    parts = []
    for kind, by_where in sorted(events.items(), key=lambda kv: -sum(kv[1].values())):
        places = ", ".join(f"{where}: {n}" for where, n in sorted(by_where.items()))
        parts.append(f"{kind}: {sum(by_where.values())} ({places})")
    return "; ".join(parts)

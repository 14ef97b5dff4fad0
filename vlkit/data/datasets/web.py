"""Web-scale image-text pairs from webdataset tar shards (split by rank and worker, optional resampling).

Shards are read with :func:`vlkit.data.shards.iter_tar_records`, so a shard that ends mid-record, a record
missing a member, an undecodable member and an empty shard are each counted by reason and shard, logged
once, and (policy ``error``) stop the run naming the shard.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

from torch.utils.data import IterableDataset, get_worker_info

from vlkit.data.bad_samples import BadSampleCounter, Skipped
from vlkit.data.datasets.base import as_bad_sample, collate
from vlkit.data.io import DEFAULT_MAX_IMAGE_PIXELS, BadSampleError, decode_text, load_image
from vlkit.data.shards import ShardProblem, TarRecord, iter_tar_records

logger = logging.getLogger(__name__)
IMAGE_MEMBERS = ("jpg", "jpeg", "png", "webp")


class WebImageTextDataset(IterableDataset):
    """Streams ``jpg``/``png`` + ``txt`` samples from tar shards; each (rank, worker) reads its own shards.

    Args:
        shards: The tar files.
        vis_processor: PIL image → tensor (``None`` keeps the PIL image).
        text_processor: Caption cleaning (``None`` keeps the text).
        name: Dataset name used in messages.
        policy: Web data defaults to ``skip``: bad samples are counted and logged, never silently dropped.
        resample: Each epoch, every reader draws its shards with replacement (seeded by seed, epoch and
            reader) instead of reading its disjoint share once: for iteration-based training.
        rank: Override the distributed rank (default: ``vlkit.common.dist``).
        world_size: Override the world size.
        seed: Seed of the resampling draw.
        length: Samples per epoch, when known (``build_info.num_samples``).
        max_image_pixels: Decompression-bomb limit.
        alpha: ``composite`` transparent images on white, or ``drop`` their alpha.
    """

    def __init__(
        self,
        shards: list[str],
        vis_processor: Callable | None,
        text_processor: Callable | None,
        name: str,
        policy: str = "skip",
        resample: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        seed: int = 0,
        length: int | None = None,
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
        alpha: str = "composite",
    ) -> None:
        self.shards, self.vis_processor, self.text_processor = list(shards), vis_processor, text_processor
        self.name, self.policy, self.resample, self.seed = name, policy, resample, seed
        self._rank, self._world = rank, world_size
        self.bad_samples = BadSampleCounter(name)
        self.epoch = 0
        self.length = length
        self.max_image_pixels = max_image_pixels
        self.alpha = alpha

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("this webdataset has no known length")
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _position(self) -> tuple[int, int]:
        """(reader index, number of readers) of this (rank, DataLoader worker) pair."""
        from vlkit.common.dist import get_rank, get_world_size

        rank = get_rank() if self._rank is None else self._rank
        world = get_world_size() if self._world is None else self._world
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        return rank * nw + wid, world * nw

    def my_shards(self) -> list[str]:
        """This reader's shards: a disjoint split by rank and worker, or (``resample``) a seeded draw with
        replacement of as many shards, different for every reader and epoch."""
        reader, readers = self._position()
        if self.resample:
            rng = random.Random(f"{self.seed}:{self.epoch}:{reader}")
            return [rng.choice(self.shards) for _ in range(max(1, len(self.shards) // readers))]
        if len(self.shards) < readers:
            logger.warning(
                "%s: %d shards for %d readers (ranks x workers): some readers get no data; write more, smaller "
                "shards or use fewer DataLoader workers",
                self.name,
                len(self.shards),
                readers,
            )
        return self.shards[reader::readers]

    def _samples(self) -> Iterator[dict[str, Any] | Skipped]:
        for shard in self.my_shards():
            for record in iter_tar_records(shard):
                if isinstance(record, ShardProblem):
                    yield self._skip(
                        BadSampleError(record.shard, f"{record.kind} ({record.detail})", record.kind),
                        record.shard,
                        "Re-write or re-download the shard",
                        samples=record.records,
                    )
                    continue
                source = f"{record.shard}:{record.key}"
                try:
                    yield self._sample(record, source)
                except (BadSampleError, ValueError) as err:
                    bad = as_bad_sample(err, source)
                    if bad is None:
                        raise
                    yield self._skip(bad, record.shard, "Fix or remove it")

    def _sample(self, record: TarRecord, source: str) -> dict[str, Any]:
        members = record.members
        image_ext = next((e for e in IMAGE_MEMBERS if e in members), None)
        for missing, what in ((image_ext is None, "an image (jpg/jpeg/png/webp)"), ("txt" not in members, "txt")):
            if missing:
                raise BadSampleError(
                    source, f"record missing a member (no {what}; it has: {', '.join(sorted(members)) or 'nothing'})"
                )
        image = load_image(members[image_ext], name=source, max_pixels=self.max_image_pixels, alpha=self.alpha)
        text = decode_text(members["txt"], f"{source} (txt)")
        return {
            "image": self.vis_processor(image) if self.vis_processor else image,
            "text_input": self.text_processor(text) if self.text_processor else text,
        }

    def _skip(self, bad: BadSampleError, shard: str, fix: str, samples: int = 1) -> Skipped:
        """Count and log the skip (under ``error``: stop, naming the shard) and return its marker."""
        if self.policy == "error":
            raise BadSampleError(bad.source, f"{bad.reason}. {fix}, or set run.on_bad_sample=skip", bad.kind) from None
        marker = self.bad_samples.record(bad.source, bad.reason, bad.kind, where=shard)
        return Skipped(marker.kind, marker.where, samples)

    def __iter__(self) -> Iterator[dict[str, Any] | Skipped]:
        """Every record of this reader's shards: a sample, or a :class:`Skipped` marker for each record
        (and each empty, unreadable or cut shard) that could not be used, so kept + skipped = read."""
        return self._samples()

    def collater(self, samples: list[dict | Skipped | None]) -> dict[str, Any]:
        return collate(samples)

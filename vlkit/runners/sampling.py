"""Deterministic, resumable data order for training and duplicate-free sharding for evaluation.

Exact resume needs (1) the same sample order, resumable at any batch, and (2) data augmentation
that does not depend on which worker, or which process start, loads a sample. The first is
:class:`~vlkit.data.samplers.DistributedResumableSampler` (``set_epoch`` / ``set_start_index``); the
second is :class:`PerSampleSeededDataset`, which seeds Python/NumPy/torch from ``(seed, epoch, index)`` before
loading each sample. Neither touches the main process's RNG streams, so dropout in the model sees
the same random numbers with or without an interruption.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, get_worker_info
from torch.utils.data.dataloader import default_collate

from vlkit.common.batch import move_to_device  # noqa: F401 (moved to vlkit.common; still importable here)
from vlkit.common.dist import interleave_gathered  # noqa: F401 (moved to vlkit.common)
from vlkit.data.samplers import DistributedResumableSampler


class ShardedEvalSampler(Sampler[int]):
    """Rank ``r`` gets indices ``r, r + world, ...`` in order: no padding, so nothing is evaluated twice.

    :func:`interleave_gathered` puts the gathered per-rank results back into dataset order.
    """

    def __init__(self, num_samples: int, num_replicas: int = 1, rank: int = 0) -> None:
        self.indices = list(range(rank, num_samples, num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 32-bit seed that depends on all three numbers (collision-resistant mixing by SeedSequence)."""
    return int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0])


def _seed_all(value: int) -> None:
    random.seed(value)
    np.random.seed(value)
    # the CPU generator only: samples are augmented on the CPU, and torch.manual_seed would also queue a CUDA
    # re-seed with a formatted stack trace per call (2 % of a tiny pre-training step)
    torch.default_generator.manual_seed(value)


class PerSampleSeededDataset(Dataset):
    """Wraps a map-style dataset so each sample's augmentation depends only on ``(seed, epoch, index)``.

    In a worker process the RNGs are simply re-seeded; in the main process (``num_workers=0``) their
    states are saved and restored around the load, so the model's RNG stream is untouched.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        value = sample_seed(self.seed, self.epoch, index)
        if get_worker_info() is not None:
            _seed_all(value)
            return self.dataset[index]
        saved = (random.getstate(), np.random.get_state(), torch.get_rng_state())
        try:
            _seed_all(value)
            return self.dataset[index]
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.set_rng_state(saved[2])


def collate_fn_of(dataset: Dataset) -> Callable[[list], Any]:
    """The dataset's ``collater`` (vlkit datasets have one), else torch's default collate."""
    return getattr(dataset, "collater", None) or default_collate


def _loader_generator(seed: int) -> torch.Generator:
    # DataLoader draws its workers' base seed from this generator instead of the global RNG, so creating
    # an iterator (each epoch, or once on resume) does not advance the model's random stream.
    return torch.Generator().manual_seed(seed)


class TrainBatches:
    """The training batches of one rank, epoch by epoch, resumable at any batch.

    Args:
        dataset: Map-style (exactly resumable) or iterable (resumed by skipping batches) dataset.
        batch_size: Per-rank batch size.
        collate: Batch collate function (default: the dataset's ``collater``).
        seed: Shared seed (data order and per-sample augmentation).
        num_workers: DataLoader workers.
        rank: This rank.
        world_size: Number of ranks.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        seed: int,
        num_workers: int,
        rank: int = 0,
        world_size: int = 1,
        collate: Callable[[list], Any] | None = None,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers
        self.collate = collate or collate_fn_of(dataset)
        self.iterable = isinstance(dataset, IterableDataset)
        self.sampler: DistributedResumableSampler | None = None
        self.source: Dataset = dataset
        if not self.iterable:
            self.sampler = DistributedResumableSampler(len(dataset), world_size, rank, shuffle=True, seed=seed)
            self.source = PerSampleSeededDataset(dataset, seed)

    def __len__(self) -> int:
        """Batches per epoch (for an iterable dataset: ``len(dataset) // batch_size`` when it has a length)."""
        if self.sampler is not None:
            return math.ceil(self.sampler.per_rank / self.batch_size)
        try:
            return max(1, len(self.dataset) // self.batch_size)  # type: ignore[arg-type]
        except TypeError:
            raise ValueError(
                "An iterable training dataset without __len__ needs an iteration-based runner: "
                "set run.runner=runner_iter with run.max_iters and run.iters_per_inner_epoch."
            ) from None

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[Any]:
        """Batches of ``epoch`` from batch ``start_batch`` on."""
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
            self.sampler.set_start_index(start_batch * self.batch_size)
            self.source.set_epoch(epoch)  # type: ignore[attr-defined]
        elif hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        loader = DataLoader(
            self.source,
            batch_size=self.batch_size,
            sampler=self.sampler,
            num_workers=self.num_workers,
            collate_fn=self.collate,
            pin_memory=torch.cuda.is_available(),
            generator=_loader_generator(self.seed + epoch),
            drop_last=False,
        )
        it = iter(loader)
        if self.iterable:
            for _ in range(start_batch):  # no random access: replay and drop the batches already seen
                next(it, None)
        yield from it


def build_eval_loader(dataset: Dataset, batch_size: int, num_workers: int, rank: int, world_size: int) -> DataLoader:
    """An in-order loader over this rank's shard of ``dataset`` (no duplicates across ranks)."""
    sampler = None if isinstance(dataset, IterableDataset) else ShardedEvalSampler(len(dataset), world_size, rank)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_fn_of(dataset),
        pin_memory=torch.cuda.is_available(),
        generator=_loader_generator(0),
        drop_last=False,
    )

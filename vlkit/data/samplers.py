"""Distributed-aware training sampler: deterministic order per ``(seed, epoch)``, resumable mid-epoch.

Exact resume needs the interrupted epoch's order to be rebuilt bit for bit and the batches already
consumed to be skipped; :class:`DistributedResumableSampler` does both without touching any global
RNG (the permutation comes from a private ``torch.Generator``), so the model's random stream is the
same with or without an interruption.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import torch
from torch.utils.data import Sampler


class DistributedResumableSampler(Sampler[int]):
    """This rank's share of a (shuffled) epoch, from any position.

    The epoch's permutation is drawn from ``seed + epoch`` (identical on every rank), padded by
    wrapping around to a multiple of ``num_replicas`` so every rank runs the same number of steps
    (or truncated with ``drop_last``), and rank ``r`` takes positions ``r, r + world, ...``.

    Args:
        data: The dataset (or its length).
        num_replicas: World size (default: from ``vlkit.common.dist``).
        rank: This process's rank (default: from ``vlkit.common.dist``).
        shuffle: Permute each epoch; otherwise dataset order.
        seed: Base seed, the same on every rank.
        drop_last: Drop the tail instead of padding it with repeated samples.
    """

    def __init__(
        self,
        data: Sized | int,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        from vlkit.common.dist import get_rank, get_world_size

        self.num_samples = data if isinstance(data, int) else len(data)
        self.num_replicas = get_world_size() if num_replicas is None else num_replicas
        self.rank = get_rank() if rank is None else rank
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {self.rank} is outside [0, {self.num_replicas}) (num_replicas)")
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        self.start_index = 0
        divide = math.floor if drop_last else math.ceil
        self.per_rank = divide(self.num_samples / self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s order (call before iterating, with the same value on every rank)."""
        self.epoch = epoch

    def set_start_index(self, start_index: int) -> None:
        """Skip this rank's first ``start_index`` samples of the epoch (``batches_done * batch_size``)."""
        if start_index < 0:
            raise ValueError(f"start_index must be >= 0, got {start_index}")
        self.start_index = start_index

    def epoch_order(self) -> list[int]:
        """The whole epoch's indices (all ranks), padded or truncated to ``per_rank * num_replicas``."""
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=gen).tolist()
        else:
            order = list(range(self.num_samples))
        total = self.per_rank * self.num_replicas
        if order and total > len(order):
            order = (order * math.ceil(total / len(order)))[:total]
        return order[:total]

    def __iter__(self) -> Iterator[int]:
        mine = self.epoch_order()[self.rank :: self.num_replicas]
        return iter(mine[self.start_index :])

    def __len__(self) -> int:
        return max(0, self.per_rank - self.start_index)

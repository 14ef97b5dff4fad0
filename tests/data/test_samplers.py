"""The training sampler: ranks partition an epoch, the order is a function of seed+epoch, resume is exact."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from vlkit.data.samplers import DistributedResumableSampler


def test_two_ranks_partition_the_epoch() -> None:
    ranks = [list(DistributedResumableSampler(10, num_replicas=2, rank=r, seed=3)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 5
    assert sorted(ranks[0] + ranks[1]) == list(range(10))


def test_uneven_length_pads_or_drops() -> None:
    padded = [list(DistributedResumableSampler(7, num_replicas=2, rank=r)) for r in (0, 1)]
    assert len(padded[0]) == len(padded[1]) == 4 and set(padded[0] + padded[1]) == set(range(7))
    dropped = [list(DistributedResumableSampler(7, num_replicas=2, rank=r, drop_last=True)) for r in (0, 1)]
    assert len(dropped[0]) == len(dropped[1]) == 3 and len(set(dropped[0] + dropped[1])) == 6


def test_same_seed_and_epoch_give_the_same_order() -> None:
    a, b = DistributedResumableSampler(50, 1, 0, seed=7), DistributedResumableSampler(50, 1, 0, seed=7)
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    b.set_epoch(3)
    assert list(a) != list(b) and sorted(a) == sorted(b)
    c = DistributedResumableSampler(50, 1, 0, seed=8)
    c.set_epoch(2)
    assert list(c) != list(a)
    assert list(DistributedResumableSampler(5, 1, 0, shuffle=False)) == [0, 1, 2, 3, 4]


def test_order_does_not_touch_the_global_rng() -> None:
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    list(DistributedResumableSampler(100, 1, 0, seed=1))
    assert torch.equal(torch.rand(1), expected)


@pytest.mark.parametrize("consumed_batches", [0, 1, 3])
def test_set_start_index_skips_exactly_the_consumed_batches(consumed_batches: int) -> None:
    batch_size = 4
    full = DistributedResumableSampler(30, num_replicas=2, rank=1, seed=5)
    full.set_epoch(4)
    all_batches = [b.tolist() for b in DataLoader(list(range(30)), batch_size=batch_size, sampler=full)]
    resumed = DistributedResumableSampler(30, num_replicas=2, rank=1, seed=5)
    resumed.set_epoch(4)
    resumed.set_start_index(consumed_batches * batch_size)
    rest = [b.tolist() for b in DataLoader(list(range(30)), batch_size=batch_size, sampler=resumed)]
    assert rest == all_batches[consumed_batches:]
    assert len(resumed) == 15 - consumed_batches * batch_size


def test_bad_rank_is_refused() -> None:
    with pytest.raises(ValueError, match="rank 2 is outside"):
        DistributedResumableSampler(10, num_replicas=2, rank=2)

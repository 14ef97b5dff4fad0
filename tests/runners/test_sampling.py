from __future__ import annotations

import torch
from torch.utils.data import Dataset

from vlkit.runners.sampling import (
    PerSampleSeededDataset,
    ShardedEvalSampler,
    TrainBatches,
    interleave_gathered,
)


def test_eval_sharding_has_no_duplicates_and_interleave_restores_order() -> None:
    shards = [list(ShardedEvalSampler(11, num_replicas=3, rank=r)) for r in range(3)]
    assert sum(len(s) for s in shards) == 11
    assert interleave_gathered(shards) == list(range(11))


class _Noisy(Dataset):
    def __len__(self) -> int:
        return 6

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.rand(2) + i


def test_per_sample_seeding_is_reproducible_and_leaves_global_rng_alone() -> None:
    ds = PerSampleSeededDataset(_Noisy(), seed=1)
    torch.manual_seed(0)
    first = ds[2]
    after_first = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(ds[2], first)  # same (seed, epoch, index) -> same augmentation
    assert torch.equal(torch.rand(1), after_first)  # the global stream did not move
    ds.set_epoch(1)
    assert not torch.equal(ds[2], first)


def test_train_batches_resume_mid_epoch_gives_the_same_batches() -> None:
    batches = TrainBatches(_Noisy(), batch_size=2, seed=3, num_workers=0)
    assert len(batches) == 3
    full = list(batches.epoch(1))
    resumed = list(batches.epoch(1, start_batch=1))
    assert len(resumed) == 2
    assert all(torch.equal(a, b) for a, b in zip(full[1:], resumed))

"""Web-scale image-text pairs from webdataset tar shards (split by rank and worker, optional resampling)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from torch.utils.data import IterableDataset, get_worker_info

from vlkit.data.bad_samples import BadSampleCounter
from vlkit.data.datasets.base import collate
from vlkit.data.io import BadSampleError, decode_text, load_image


class WebImageTextDataset(IterableDataset):
    """Streams ``jpg``/``png`` + ``txt`` samples from tar shards; each (rank, worker) reads its own shards.

    Args:
        shards: The tar files.
        resample: Draw shards with replacement forever (for iteration-based training), else one pass.
        policy: Web data defaults to ``skip``: bad samples are counted and logged, never silently dropped.
    """

    def __init__(
        self,
        shards: list[str],
        vis_processor: Callable,
        text_processor: Callable,
        name: str,
        policy: str = "skip",
        resample: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        seed: int = 0,
        length: int | None = None,
    ) -> None:
        self.shards, self.vis_processor, self.text_processor = list(shards), vis_processor, text_processor
        self.name, self.policy, self.resample, self.seed = name, policy, resample, seed
        self._rank, self._world = rank, world_size
        self.bad_samples = BadSampleCounter(name)
        self.epoch = 0
        self.length = length

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError("this webdataset has no known length")
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def my_shards(self) -> list[str]:
        from vlkit.common.dist import get_rank, get_world_size

        rank = get_rank() if self._rank is None else self._rank
        world = get_world_size() if self._world is None else self._world
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        return self.shards[rank * nw + wid :: world * nw]

    def _samples(self) -> Iterator[dict[str, Any]]:
        import random

        import webdataset as wds

        shards = self.my_shards()
        if self.resample:
            rng = random.Random(self.seed + self.epoch)
            shards = [rng.choice(self.shards) for _ in range(max(1, len(shards)))]
        for sample in wds.WebDataset(shards, shardshuffle=False, empty_check=False):
            key = sample.get("__key__", "?")
            try:
                image_bytes = sample.get("jpg", sample.get("jpeg", sample.get("png", b"")))
                image = load_image(image_bytes, name=f"{sample.get('__url__', '')}:{key}")
                text = decode_text(sample.get("txt"), f"{key} (txt)")
                yield {"image": self.vis_processor(image), "text_input": self.text_processor(text)}
            except (BadSampleError, ValueError) as err:
                if self.policy == "error":
                    raise
                self.bad_samples.record(key, str(err))
                yield None

    def __iter__(self) -> Iterator[dict[str, Any] | None]:
        return self._samples()

    def collater(self, samples: list[dict | None]) -> dict[str, Any]:
        return collate(samples)

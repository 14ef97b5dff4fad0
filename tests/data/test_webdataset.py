"""Webdataset shards are split by rank and DataLoader worker: each sample once per epoch."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest
from PIL import Image
from torch.utils.data import DataLoader

from vlkit.data.datasets import WebImageTextDataset


def _shards(
    root: Path, num_shards: int = 4, per_shard: int = 5, bad: tuple[str, ...] = (), bad_txt: tuple[str, ...] = ()
) -> list[str]:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="JPEG")
    jpg = buf.getvalue()
    paths = []
    for s in range(num_shards):
        path = root / f"shard-{s:03d}.tar"
        with tarfile.open(path, "w") as tar:
            for i in range(per_shard):
                key = f"s{s}_{i}"
                txt = b"caf\xe9 " + key.encode() if key in bad_txt else f"caption {key}".encode()
                members = {"jpg": b"" if key in bad else jpg, "txt": txt}
                for ext, data in members.items():
                    info = tarfile.TarInfo(f"{key}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        paths.append(str(path))
    return paths


def _keys(ds: WebImageTextDataset, workers: int) -> list[str]:
    loader = DataLoader(ds, batch_size=3, num_workers=workers, collate_fn=ds.collater)
    return [t.split()[-1] for batch in loader for t in batch.get("text_input", [])]


@pytest.mark.parametrize("workers", [0, 2])
def test_ranks_and_workers_read_each_sample_once(tmp_path: Path, workers: int) -> None:
    shards = _shards(tmp_path)
    seen = []
    for rank in (0, 1):
        ds = WebImageTextDataset(shards, None, None, name="web", rank=rank, world_size=2)
        ds.vis_processor = _to_size  # PIL → small tensor, picklable for workers
        seen += _keys(ds, workers)
    assert sorted(seen) == sorted(f"s{s}_{i}" for s in range(4) for i in range(5))


def _to_size(img: Image.Image) -> object:
    import torch

    return torch.zeros(3, *img.size)


def test_resampling_differs_by_rank_and_epoch_and_is_reproducible(tmp_path: Path) -> None:
    shards = _shards(tmp_path, num_shards=8, per_shard=1)

    def drawn(rank: int, epoch: int) -> list[str]:
        ds = WebImageTextDataset(shards, None, None, name="web", resample=True, rank=rank, world_size=2, seed=1)
        ds.set_epoch(epoch)
        return ds.my_shards()

    assert drawn(0, 0) == drawn(0, 0) and len(drawn(0, 0)) == 4
    assert drawn(0, 0) != drawn(1, 0) or drawn(0, 0) != drawn(0, 1)
    assert {s for r in (0, 1) for e in range(5) for s in drawn(r, e)} <= set(shards)


def test_bad_web_samples_are_counted_in_the_batch(tmp_path: Path) -> None:
    shards = _shards(tmp_path, num_shards=1, per_shard=5, bad=("s0_1", "s0_3"), bad_txt=("s0_4",))
    ds = WebImageTextDataset(shards, _to_size, None, name="web", policy="skip", rank=0, world_size=1)
    batch = ds.collater(list(ds))
    assert batch["num_skipped"] == 3 and len(batch["text_input"]) == 2
    assert ds.bad_samples.by_reason == {"empty image data": 2, "caption not UTF-8": 1}
    strict = WebImageTextDataset(shards, _to_size, None, name="web", policy="error", rank=0, world_size=1)
    with pytest.raises(ValueError, match=r"shard-000.tar:s0_1: empty image data .*run.on_bad_sample=skip"):
        list(strict)

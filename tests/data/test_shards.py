"""Webdataset shards never lose data silently: every loss is counted by reason and shard, logged, or raised."""

from __future__ import annotations

import io
import logging
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from vlkit.data.bad_samples import format_skip_events
from vlkit.data.datasets import WebImageTextDataset
from vlkit.data.io import BadSampleError
from vlkit.data.shards import ENDS_MID_RECORD, ShardProblem, TarRecord, iter_tar_records


def jpeg(colour: tuple[int, int, int] = (1, 2, 3)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="JPEG")
    return buf.getvalue()


def write_shard(path: Path, records: list[dict[str, bytes]], prefix: str = "k") -> Path:
    """A tar of ``records`` (extension -> bytes), keys ``<prefix>0``, ``<prefix>1``, ..."""
    with tarfile.open(path, "w") as tar:
        for i, members in enumerate(records):
            for ext, data in members.items():
                info = tarfile.TarInfo(f"{prefix}{i}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def good(i: int) -> dict[str, bytes]:
    return {"jpg": jpeg(), "txt": f"caption {i}".encode()}


def cut(path: Path, keep: int) -> Path:
    path.write_bytes(path.read_bytes()[:keep])
    return path


def test_a_complete_shard_reads_every_record(tmp_path: Path) -> None:
    shard = write_shard(tmp_path / "a.tar", [good(i) for i in range(3)])
    records = list(iter_tar_records(str(shard)))
    assert [r.key for r in records] == ["k0", "k1", "k2"] and all(isinstance(r, TarRecord) for r in records)
    assert records[1].members["txt"] == b"caption 1"


@pytest.mark.parametrize("where", ["inside a member", "between records", "inside a header"])
def test_a_shard_that_ends_early_says_so(tmp_path: Path, where: str) -> None:
    shard = write_shard(tmp_path / "a.tar", [good(i) for i in range(3)])
    with tarfile.open(shard) as tar:
        members = tar.getmembers()
    second_jpg = members[2]  # k1.jpg
    keep = {
        "inside a member": second_jpg.offset_data + 100,
        "between records": second_jpg.offset,  # k0 complete, k1 not started
        "inside a header": second_jpg.offset + 200,
    }[where]
    out = list(iter_tar_records(str(cut(shard, keep))))
    problem = out[-1]
    assert isinstance(problem, ShardProblem) and problem.kind == ENDS_MID_RECORD and problem.shard == str(shard)
    kept = [r.key for r in out if isinstance(r, TarRecord)]
    in_progress = "k1" if where == "inside a member" else "k0"  # its remaining members may be lost
    assert kept == (["k0"] if in_progress == "k1" else []) and problem.records == 1
    assert f"record '{in_progress}' incomplete" in problem.detail


def test_empty_and_unreadable_shards(tmp_path: Path) -> None:
    (tmp_path / "zero.tar").write_bytes(b"")
    write_shard(tmp_path / "none.tar", [])
    (tmp_path / "junk.tar").write_bytes(b"this is not a tar file" * 50)
    kinds = [next(iter(iter_tar_records(str(tmp_path / n)))).kind for n in ("zero.tar", "none.tar", "junk.tar")]
    assert kinds == ["empty shard", "empty shard", "unreadable shard"]


@pytest.fixture
def faulty_shards(tmp_path: Path) -> list[str]:
    """Five shards: fine; a record without txt and one with a broken jpg; cut inside record 2; empty; fine."""
    ok = write_shard(tmp_path / "ok-0.tar", [good(i) for i in range(3)], "a")
    members = write_shard(
        tmp_path / "members-1.tar", [good(0), {"jpg": jpeg()}, {"jpg": b"\xff\xd8 broken", "txt": b"x"}], "b"
    )
    full = write_shard(tmp_path / "cut-2.tar", [good(i) for i in range(4)], "c")
    with tarfile.open(full) as tar:
        offset = tar.getmembers()[4].offset_data + 50  # inside c2.jpg
    cut(full, offset)
    (tmp_path / "empty-3.tar").write_bytes(b"")
    last = write_shard(tmp_path / "ok-4.tar", [good(i) for i in range(2)], "e")
    return [str(p) for p in (ok, members, full, tmp_path / "empty-3.tar", last)]


def test_every_loss_is_counted_by_reason_and_shard(faulty_shards: list[str], caplog: pytest.LogCaptureFixture) -> None:
    ds = WebImageTextDataset(faulty_shards, None, None, name="web", policy="skip", rank=0, world_size=1)
    with caplog.at_level(logging.WARNING, logger="vlkit.data"):
        batch = ds.collater(list(ds))
    read = 3 + 3 + 3 + 0 + 2  # records started: the cut shard's c2 counts, c3 was never reached
    assert len(batch["text_input"]) == 3 + 1 + 2 + 2 and batch["num_skipped"] == 3
    assert len(batch["text_input"]) + batch["num_skipped"] == read
    name = dict(zip(["ok", "members", "cut", "empty", "last"], faulty_shards, strict=True))
    assert batch["skipped"] == {
        "record missing a member": {name["members"]: 1},
        "cannot decode image": {name["members"]: 1},
        ENDS_MID_RECORD: {name["cut"]: 1},
        "empty shard": {name["empty"]: 1},
    }
    assert ds.bad_samples.by_where[name["members"]] == {"record missing a member": 1, "cannot decode image": 1}
    warnings = [r.getMessage() for r in caplog.records if "skipped bad sample" in r.getMessage()]
    assert len(warnings) == 4  # each loss logged once, naming its shard
    assert any("cut-2.tar: shard ends mid-record" in w and "record 'c2' incomplete" in w for w in warnings)
    assert any("members-1.tar:b1: record missing a member (no txt; it has: jpg)" in w for w in warnings)
    assert "empty shard: 1 (" in format_skip_events(batch["skipped"])


@pytest.mark.parametrize(
    "index,message",
    [
        (1, r"members-1.tar:b1: record missing a member \(no txt.*Fix or remove it, or set run.on_bad_sample=skip"),
        (2, r"cut-2.tar: shard ends mid-record \(.*record 'c2' incomplete.*Re-write or re-download the shard"),
        (3, r"empty-3.tar: empty shard \(0 bytes\)"),
    ],
)
def test_under_error_each_loss_stops_the_run_naming_the_shard(
    faulty_shards: list[str], index: int, message: str
) -> None:
    ds = WebImageTextDataset([faulty_shards[index]], None, None, name="web", policy="error", rank=0, world_size=1)
    with pytest.raises(BadSampleError, match=message):
        list(ds)


def test_losses_travel_through_dataloader_workers(faulty_shards: list[str]) -> None:
    from torch.utils.data import DataLoader

    from vlkit.data.bad_samples import merge_skip_events

    ds = WebImageTextDataset(faulty_shards, None, None, name="web", policy="skip", rank=0, world_size=1)
    events: dict[str, dict[str, int]] = {}
    kept = skipped = 0
    for batch in DataLoader(ds, batch_size=4, num_workers=2, collate_fn=ds.collater):
        merge_skip_events(events, batch.get("skipped", {}))
        kept, skipped = kept + len(batch.get("text_input", [])), skipped + batch["num_skipped"]
    assert (kept, skipped, sum(n for w in events.values() for n in w.values())) == (8, 3, 4)

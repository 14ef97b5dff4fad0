"""Work shards of a web dataset: fixed-size slices of a json list, or one webdataset tar each.

Tar shards are read with :func:`vlkit.data.shards.iter_tar_records`: whatever a shard loses (a cut,
a record without its image, an empty or unreadable shard) comes out as a :class:`SkippedItem`.

Shards are the unit of distribution (rank ``r`` takes shards ``i % world_size == r``) and of resume
(a shard's result is written atomically once it is complete).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vlkit.capfilt.config import WebDataConfig
from vlkit.data.shards import ShardProblem, expand_shard_pattern, iter_tar_records

IMAGE_MEMBERS = ("jpg", "jpeg", "png", "webp")


@dataclass(frozen=True)
class WebItem:
    """One web image with its alt-text.

    Attributes:
        key: Stable identifier (image file stem, or the webdataset ``__key__``).
        image: The image as a path (json inputs) or encoded bytes (webdataset inputs).
        image_ref: How the output refers to the image (relative path, or ``<tar>:<key>``).
        caption: The web text; may be empty or undecodable (then ``None``) — the filter's job to judge.
    """

    key: str
    image: Path | bytes
    image_ref: str
    caption: str | None


@dataclass(frozen=True)
class SkippedItem:
    """What a shard lost instead of an item: a record without an image, or a cut, empty or unreadable shard.

    Attributes:
        image_ref: The record (``<tar>:<key>``) or the shard.
        kind: The reason's category (``record missing a member``, ``shard ends mid-record``, ...).
        reason: The whole message.
        samples: Images it cost (0 for an empty shard or a cut between records).
    """

    image_ref: str
    kind: str
    reason: str
    samples: int = 1


@dataclass(frozen=True)
class WebShard:
    index: int
    name: str
    source: str
    start: int = 0
    stop: int = 0


def _load_json_list(path: str) -> list[dict]:
    """The annotation list at ``path``, parsed once per process while the file is unchanged (every shard of a
    json source is a slice of it: re-parsing it per shard made CapFilt quadratic in the number of entries)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"capfilt.data.annotations: {path!r} does not exist.")
    stat = p.stat()
    return _parse_json_list(str(p.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1)
def _parse_json_list(path: str, mtime_ns: int, size: int) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a json list of {{'image': ..., 'caption': ...}} entries.")
    return data


def list_shards(cfg: WebDataConfig, shard_size: int, max_shards: int = 0) -> list[WebShard]:
    """The work shards of the web dataset, in a fixed order (the first ``max_shards`` when > 0)."""
    shards = _all_shards(cfg, shard_size)
    return shards[:max_shards] if max_shards > 0 else shards


def _all_shards(cfg: WebDataConfig, shard_size: int) -> list[WebShard]:
    if cfg.format == "wds":
        return [WebShard(i, Path(p).stem, p) for i, p in enumerate(expand_shard_pattern(cfg.shards or ""))]
    total = len(_load_json_list(cfg.annotations or ""))
    return [
        WebShard(i, f"part-{i:06d}", cfg.annotations or "", start, min(start + shard_size, total))
        for i, start in enumerate(range(0, total, shard_size))
    ]


def iter_shard(shard: WebShard, cfg: WebDataConfig) -> Iterator[WebItem | SkippedItem]:
    """The items of one shard, in file order; for webdataset shards, a :class:`SkippedItem` for each loss."""
    if cfg.format == "wds":
        yield from _iter_tar(shard.source)
        return
    root = Path(cfg.images_root or Path(shard.source).parent)
    for entry in _load_json_list(shard.source)[shard.start : shard.stop]:
        rel = str(entry["image"])
        yield WebItem(key=Path(rel).stem, image=root / rel, image_ref=rel, caption=entry.get("caption"))


def _iter_tar(path: str) -> Iterator[WebItem | SkippedItem]:
    name = Path(path).name
    for record in iter_tar_records(path):
        if isinstance(record, ShardProblem):
            yield SkippedItem(name, record.kind, f"{name}: {record.kind} ({record.detail})", record.records)
            continue
        ref = f"{name}:{record.key}"
        parts = record.members
        image = next((parts[e] for e in IMAGE_MEMBERS if e in parts), None)
        if image is None:
            has = ", ".join(sorted(parts)) or "nothing"
            reason = f"{ref}: record missing a member (no image: jpg/jpeg/png/webp; it has: {has})"
            yield SkippedItem(ref, "record missing a member", reason)
            continue
        caption: str | None = None  # a missing or undecodable web text is the filter's to reject, not a skip
        if "txt" in parts:
            try:
                caption = parts["txt"].decode("utf-8")
            except UnicodeDecodeError:
                caption = None
        yield WebItem(key=Path(record.key).name, image=image, image_ref=ref, caption=caption)


def open_item_image(item: WebItem) -> object:
    """Decode an item's image to RGB (raises ``BadSampleError``, a ValueError, naming the item on failure)."""
    from vlkit.data.io import load_image

    return load_image(item.image, name=item.image_ref)


def open_path(path: str) -> object:
    """Decode the image file at ``path`` to RGB (a ValueError naming it on failure)."""
    from vlkit.data.io import load_image

    return load_image(Path(path), name=path)

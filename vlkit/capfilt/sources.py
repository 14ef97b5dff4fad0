"""Work shards of a web dataset: fixed-size slices of a json list, or one webdataset tar each.

Shards are the unit of distribution (rank ``r`` takes shards ``i % world_size == r``) and of resume
(a shard's result is written atomically once it is complete).
"""

from __future__ import annotations

import glob
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vlkit.capfilt.config import WebDataConfig


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
class WebShard:
    index: int
    name: str
    source: str
    start: int = 0
    stop: int = 0


def expand_shard_pattern(pattern: str) -> list[str]:
    """Expand ``a/web-{000000..000003}.tar`` brace ranges and globs into a sorted file list."""
    match = re.search(r"\{(\d+)\.\.(\d+)\}", pattern)
    if match:
        lo, hi = match.group(1), match.group(2)
        width = len(lo)
        names = [
            pattern[: match.start()] + str(i).zfill(width) + pattern[match.end() :] for i in range(int(lo), int(hi) + 1)
        ]
    else:
        names = sorted(glob.glob(pattern)) or [pattern]
    missing = [n for n in names if not Path(n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"capfilt.data.shards: {len(missing)} shard file(s) not found, e.g. {missing[0]!r}. "
            f"Check the pattern {pattern!r}."
        )
    return names


def _load_json_list(path: str) -> list[dict]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"capfilt.data.annotations: {path!r} does not exist.")
    with p.open(encoding="utf-8") as f:
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


def iter_shard(shard: WebShard, cfg: WebDataConfig) -> Iterator[WebItem]:
    """The items of one shard, in file order."""
    if cfg.format == "wds":
        yield from _iter_tar(shard.source)
        return
    root = Path(cfg.images_root or Path(shard.source).parent)
    for entry in _load_json_list(shard.source)[shard.start : shard.stop]:
        rel = str(entry["image"])
        yield WebItem(key=Path(rel).stem, image=root / rel, image_ref=rel, caption=entry.get("caption"))


def _iter_tar(path: str) -> Iterator[WebItem]:
    groups: dict[str, dict[str, bytes]] = {}
    order: list[str] = []
    with tarfile.open(path) as tar:
        for member in tar:
            if not member.isfile():
                continue
            key, _, ext = member.name.partition(".")
            if key not in groups:
                groups[key] = {}
                order.append(key)
            fobj = tar.extractfile(member)
            groups[key][ext.lower()] = fobj.read() if fobj is not None else b""
    for key in order:
        parts = groups[key]
        image = next((parts[e] for e in ("jpg", "jpeg", "png", "webp") if e in parts), b"")
        caption: str | None = None
        if "txt" in parts:
            try:
                caption = parts["txt"].decode("utf-8")
            except UnicodeDecodeError:
                caption = None
        yield WebItem(key=Path(key).name, image=image, image_ref=f"{Path(path).name}:{key}", caption=caption)


def open_item_image(item: WebItem) -> object:
    """Decode an item's image to RGB (raises ``BadSampleError``, a ValueError, naming the item on failure)."""
    from vlkit.data.io import load_image

    return load_image(item.image, name=item.image_ref)


def open_path(path: str) -> object:
    """Decode the image file at ``path`` to RGB (a ValueError naming it on failure)."""
    from vlkit.data.io import load_image

    return load_image(Path(path), name=path)

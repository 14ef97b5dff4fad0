"""What ``vlkit predict`` reads: a folder of images, a json list, or webdataset tar shards.

Every input item has a stable ``id`` (the path relative to the folder, the list entry's ``id``, or
``<shard file>:<key>``): the output is keyed by it, so a re-run skips what is already there. An image that
cannot be used (missing, undecodable, a shard cut short) becomes a :class:`BadInput` record instead of an
error, and the run goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from vlkit.data.datasets.image_folder import IMAGE_EXTENSIONS
from vlkit.data.io import BadSampleError, load_image
from vlkit.data.shards import ShardProblem, expand_shard_pattern, iter_tar_records

SHARD_IMAGE_MEMBERS = ("jpg", "jpeg", "png", "webp")
ITEM_KEYS = ("question", "texts")  # per-item fields a verb may read (list.json entries, shard .json members)


@dataclass(frozen=True)
class InputItem:
    """One image to predict on: its id, where the image is, and per-item fields (``question``, ``texts``)."""

    id: str
    image: Path | bytes
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BadInput:
    """An item (or a shard) that gave no image: ``id``, the ``reason``, and how many images it cost."""

    id: str
    reason: str
    images: int = 1


@dataclass(frozen=True)
class Done:
    """An item already in the output (skipped without decoding)."""

    id: str


def _item_fields(entry: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "question" in entry:
        out["question"] = str(entry["question"])
    texts = entry.get("texts", entry.get("caption"))
    if texts is not None:
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ValueError(f"{where}: 'texts' must be a string or a list of strings, got {texts!r}.")
        out["texts"] = texts
    return out


def list_folder(root: Path) -> list[InputItem]:
    """Every image file under ``root`` (recursively, sorted); ids are paths relative to ``root``."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise FileNotFoundError(
            f"--input {root}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder or below it."
        )
    return [InputItem(p.relative_to(root).as_posix(), p) for p in files]


def list_json(path: Path, image_root: Path | None = None) -> list[InputItem]:
    """Entries of a json list: image paths, or ``{"image", "id"?, "question"?, "texts"?}`` objects.

    Image paths are relative to ``image_root`` (default: the json's folder). The id is the entry's ``id``
    (or ``question_id``), else the image path; two entries with one id are an error (give each an ``id``).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"--input {path}: not valid JSON ({err}).") from None
    if not isinstance(data, list) or not data:
        raise ValueError(f"--input {path}: expected a non-empty JSON list of image paths or {{'image': ...}} objects.")
    root = image_root or path.parent
    items, seen = [], {}
    for i, entry in enumerate(data):
        where = f"{path} entry {i}"
        if isinstance(entry, str):
            entry = {"image": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
            raise ValueError(f"{where}: expected an image path or an object with an 'image' path, got {entry!r}.")
        item_id = str(entry.get("id", entry.get("question_id", entry["image"])))
        if item_id in seen:
            raise ValueError(
                f"{where} has the same id {item_id!r} as entry {seen[item_id]}: give each entry a unique 'id' "
                "(e.g. when one image has several questions)."
            )
        seen[item_id] = i
        items.append(InputItem(item_id, root / entry["image"], _item_fields(entry, where)))
    return items


def describe_input(spec: str) -> str:
    """``folder``, ``json`` or ``shards``: how ``--input spec`` will be read (raises when it is none of them)."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return "folder"
    if path.suffix == ".json" and path.is_file():
        return "json"
    if spec.endswith(".tar") or "{" in spec:
        return "shards"
    if not path.exists():
        raise FileNotFoundError(f"--input {spec}: no such folder or file.")
    raise ValueError(
        f"--input {spec}: give a folder of images, a .json list, or .tar shards ('shards/{{000..009}}.tar')."
    )


class FileImages(Dataset):
    """Map-style dataset over listed items; returns a sample dict, :class:`Done` or :class:`BadInput`.

    Args:
        items: The listed inputs.
        transform: PIL image -> tensor (the model's eval processor).
        done: Ids already in the output (returned as :class:`Done` without reading the file).
    """

    def __init__(self, items: list[InputItem], transform: Callable[[Any], torch.Tensor], done: set[str]) -> None:
        self.items, self.transform, self.done = items, transform, done

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any] | Done | BadInput:
        return decode(self.items[index], self.transform, self.done)


class ShardImages(IterableDataset):
    """Records of webdataset tar shards, each worker reading its own shards (``i % workers``).

    A record's image is its jpg/jpeg/png/webp member; a ``.json`` member may give ``question``/``texts``, a
    ``.txt`` member is its text. Ids are ``<shard file name>:<key>``.
    """

    def __init__(self, shards: list[str], transform: Callable[[Any], torch.Tensor], done: set[str]) -> None:
        self.shards, self.transform, self.done = shards, transform, done

    def __iter__(self) -> Iterator[dict[str, Any] | Done | BadInput]:
        info = get_worker_info()
        mine = self.shards if info is None else self.shards[info.id :: info.num_workers]
        for shard in mine:
            name = Path(shard).name
            for record in iter_tar_records(shard):
                if isinstance(record, ShardProblem):
                    yield BadInput(name, f"{record.kind} ({record.detail})", record.records)
                    continue
                item_id = f"{name}:{record.key}"
                if item_id in self.done:
                    yield Done(item_id)
                    continue
                yield self._decode_record(item_id, record.members)

    def _decode_record(self, item_id: str, members: dict[str, bytes]) -> dict[str, Any] | BadInput:
        image = next((members[e] for e in SHARD_IMAGE_MEMBERS if e in members), None)
        if image is None:
            return BadInput(item_id, f"record has no image member (jpg/jpeg/png/webp; it has: {', '.join(members)})")
        try:
            fields = {}
            if "json" in members:
                meta = json.loads(members["json"].decode("utf-8"))
                fields = _item_fields(meta, item_id) if isinstance(meta, dict) else {}
            if "texts" not in fields and "txt" in members:
                fields["texts"] = [members["txt"].decode("utf-8")]
        except (ValueError, UnicodeDecodeError) as err:
            return BadInput(item_id, f"unreadable .json/.txt member ({err})")
        return decode(InputItem(item_id, image, fields), self.transform, set())


def decode(
    item: InputItem, transform: Callable[[Any], torch.Tensor], done: set[str]
) -> dict[str, Any] | Done | BadInput:
    """The item as a sample (``id``, ``image`` tensor, its fields), or why not."""
    if item.id in done:
        return Done(item.id)
    try:
        image = load_image(item.image, name=item.id)
    except BadSampleError as err:
        return BadInput(item.id, err.reason)
    return {"id": item.id, "image": transform(image), **item.fields}


def collate(samples: list[dict[str, Any] | Done | BadInput]) -> dict[str, Any]:
    """A batch: ``id``, stacked ``image``, per-item field lists, and the ``done`` ids and ``bad`` inputs."""
    good = [s for s in samples if isinstance(s, dict)]
    batch: dict[str, Any] = {
        "done": [s.id for s in samples if isinstance(s, Done)],
        "bad": [s for s in samples if isinstance(s, BadInput)],
        "id": [s["id"] for s in good],
    }
    if good:
        batch["image"] = torch.stack([s["image"] for s in good])
        for key in ITEM_KEYS:
            batch[key] = [s.get(key) for s in good]
    return batch


@dataclass
class Inputs:
    """The resolved ``--input``: its kind and either the listed items or the shard files."""

    spec: str
    kind: str
    items: list[InputItem] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        """Items listed (0 for shards, whose length is known only once read)."""
        return len(self.items)

    def dataset(self, transform: Callable[[Any], torch.Tensor], done: set[str]) -> Dataset:
        if self.kind == "shards":
            return ShardImages(self.shards, transform, done)
        return FileImages(self.items, transform, done)


def open_inputs(spec: str, image_root: str | None = None) -> Inputs:
    """Resolve ``--input``: a folder, a json list (``image_root``: what its paths are relative to) or shards.

    Raises:
        FileNotFoundError: nothing there, or a listed shard missing.
        ValueError: a malformed json list (naming the entry).
    """
    kind = describe_input(spec)
    if kind == "folder":
        return Inputs(spec, kind, items=list_folder(Path(spec).expanduser()))
    if kind == "json":
        root = Path(image_root).expanduser() if image_root else None
        return Inputs(spec, kind, items=list_json(Path(spec).expanduser(), root))
    return Inputs(spec, kind, shards=expand_shard_pattern(spec, "--input"))


__all__ = ["BadInput", "Done", "InputItem", "Inputs", "collate", "open_inputs"]

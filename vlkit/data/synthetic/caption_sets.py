"""Human-captioned image sets in Karpathy-split COCO style: the "COCO" of the world, Flickr30k and NoCaps.

COCO and Flickr30k never show the held-out (colour, shape) pairs of ``scene.HELD_OUT``; every NoCaps
image shows at least one of them, so NoCaps measures captioning of novel objects (the web pool has them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vlkit.data.synthetic.captions import clean_captions
from vlkit.data.synthetic.files import dump_json, link_or_copy
from vlkit.data.synthetic.render import ImageWriter
from vlkit.data.synthetic.scene import HELD_OUT, Scene, random_scene, rng_for

KARPATHY_FRACTIONS = {"train": 0.7, "val": 0.15, "test": 0.15}


@dataclass(frozen=True)
class CaptionedImage:
    """One image of a captioned set: where it lives (relative to the set's ``images/``), ids and captions."""

    stream: str  # the seed stream it was drawn from ("coco", "flickr30k", "nocaps")
    index: int
    split: str
    rel: str
    image_id: int
    scene: Scene
    captions: tuple[str, ...]


def split_sizes(n: int, fractions: dict[str, float]) -> dict[str, int]:
    """Split ``n`` items by ``fractions``: the first split rounds down, the last takes what is left."""
    names = list(fractions)
    sizes = {names[0]: int(n * fractions[names[0]])}
    rest, weight = n - sizes[names[0]], sum(fractions[s] for s in names[1:])
    for s in names[1:-1]:
        sizes[s] = int(rest * fractions[s] / weight)
    sizes[names[-1]] = n - sum(sizes.values())
    return sizes


def _split_of(index: int, sizes: dict[str, int]) -> str:
    for split, size in sizes.items():
        if index < size:
            return split
        index -= size
    raise IndexError(index)


def captioned_set(
    seed: int,
    stream: str,
    sizes: dict[str, int],
    name: Callable[[str, int], str],
    first_id: int,
    max_objects: int = 4,
    specific_captions: bool = False,
    short_captions: int = 0,
) -> list[CaptionedImage]:
    """``sum(sizes)`` scenes of 1-``max_objects`` objects with five captions each, ``sizes[split]`` per split."""
    n = sum(sizes.values())
    exclude = HELD_OUT if stream in ("coco", "flickr30k") else frozenset()
    out = []
    for i in range(n):
        split, image_id = _split_of(i, sizes), first_id + i
        scene = random_scene(rng_for(seed, f"{stream}/scene", i), max_objects=max_objects, exclude=exclude)
        rng = rng_for(seed, f"{stream}/captions", i)
        caps = tuple(clean_captions(scene, rng, specific=specific_captions, short=short_captions))
        out.append(CaptionedImage(stream, i, split, name(split, image_id), image_id, scene, caps))
    return out


def coco_set(
    seed: int,
    n: int,
    max_objects: int = 4,
    splits: tuple[int, int, int] | None = None,
    specific_captions: bool = False,
    short_captions: int = 0,
) -> list[CaptionedImage]:
    """The COCO-style set: ``n`` images split 70/15/15 (Karpathy), or ``splits`` = (train, val, test) images;
    ``specific_captions``: every caption names the object, ``short_captions`` of the five nothing else
    (see ``clean_captions``)."""

    def name(split: str, i: int) -> str:
        return f"{split}/COCO_{split}_{i:012d}.jpg"

    sizes = split_sizes(n, KARPATHY_FRACTIONS) if splits is None else dict(zip(KARPATHY_FRACTIONS, splits))
    return captioned_set(seed, "coco", sizes, name, 1, max_objects, specific_captions, short_captions)


def flickr_set(seed: int, n: int, max_objects: int = 4) -> list[CaptionedImage]:
    sizes = split_sizes(n, KARPATHY_FRACTIONS)
    return captioned_set(seed, "flickr30k", sizes, lambda split, i: f"{split}/{i}.jpg", 1_000_000, max_objects)


def nocaps_set(seed: int, n_per_split: int) -> list[CaptionedImage]:
    """NoCaps val and test images, each showing at least one held-out (colour, shape) pair."""
    out, novel = [], sorted(HELD_OUT)
    for k, split in enumerate(("val", "test")):
        for i in range(n_per_split):
            index = k * n_per_split + i
            scene = random_scene(rng_for(seed, "nocaps/scene", index), forced=[novel[index % len(novel)]])
            caps = tuple(clean_captions(scene, rng_for(seed, "nocaps/captions", index)))
            out.append(CaptionedImage("nocaps", index, split, f"{split}/{i:08d}.jpg", i, scene, caps))
    return out


def write_images(
    root: Path, items: list[CaptionedImage], seed: int, image_size: int, source: Path | None = None
) -> None:
    """Images of ``items`` under ``root`` (hard links to ``source/rel`` where it already holds them)."""
    writer = ImageWriter(root, image_size)
    for item in items:
        if source is not None and (source / item.rel).is_file():
            link_or_copy(source / item.rel, root / item.rel)
        else:
            writer.write(item.rel, item.scene, rng_for(seed, f"{item.stream}/pixels", item.index))


def coco_gt(items: list[CaptionedImage]) -> dict:
    """COCO caption ground truth of ``items`` (ids: the images' integer ids)."""
    return {
        "images": [{"id": it.image_id} for it in items],
        "annotations": [
            {"image_id": it.image_id, "caption": c, "id": it.image_id * 10 + k}
            for it in items
            for k, c in enumerate(it.captions)
        ],
        "info": {},
        "licenses": [],
        "type": "captions",
    }


def write_karpathy(root: Path, prefix: str, items: list[CaptionedImage], with_gt: bool) -> dict[str, int]:
    """``root/annotations/{prefix}_{split}.json`` (train: one entry per caption) and, if ``with_gt``, the gt files."""
    counts: dict[str, int] = {}
    for split in KARPATHY_FRACTIONS:
        part = [it for it in items if it.split == split]
        if split == "train":
            rows = [{"image": it.rel, "caption": c, "image_id": str(it.image_id)} for it in part for c in it.captions]
        else:
            rows = [{"image": it.rel, "caption": list(it.captions), "image_id": str(it.image_id)} for it in part]
            if with_gt:
                dump_json(root / "annotations" / f"{prefix}_{split}_gt.json", coco_gt(part))
        dump_json(root / "annotations" / f"{prefix}_{split}.json", rows)
        counts[f"{split}_images"] = len(part)
    return counts


def write_nocaps(root: Path, items: list[CaptionedImage]) -> dict[str, int]:
    """``nocaps_{val,test}.json`` and their COCO-format ground truth."""
    for split in ("val", "test"):
        part = [it for it in items if it.split == split]
        rows = [{"image": it.rel, "img_id": it.image_id, "caption": list(it.captions)} for it in part]
        dump_json(root / "annotations" / f"nocaps_{split}.json", rows)
        dump_json(root / "annotations" / f"nocaps_{split}_gt.json", coco_gt(part))
    return {
        "val_images": sum(it.split == "val" for it in items),
        "test_images": sum(it.split == "test" for it in items),
    }


__all__ = [
    "KARPATHY_FRACTIONS",
    "CaptionedImage",
    "captioned_set",
    "coco_gt",
    "coco_set",
    "flickr_set",
    "nocaps_set",
    "split_sizes",
    "write_images",
    "write_karpathy",
    "write_nocaps",
]

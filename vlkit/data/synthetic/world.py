"""Generate the synthetic "shapes" vision-language world in the real datasets' on-disk formats.

``generate_world`` writes every part (docs/data_formats.md) into a temporary sibling folder, writes
``WORLD.json`` (arguments, counts, format version) last and then swaps the folder into place, so readers
never see a half-written world; an identical existing world is reused. Every image, caption and question
comes from its own generator seeded by (seed, stream, index): the output is byte-identical for a seed and a
part does not change when other parts are left out with ``tasks``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vlkit.data.synthetic.caption_sets import (
    coco_set,
    flickr_set,
    nocaps_set,
    write_images,
    write_karpathy,
    write_nocaps,
)
from vlkit.data.synthetic.files import dump_json
from vlkit.data.synthetic.nlvr import write_nlvr
from vlkit.data.synthetic.video import write_videos
from vlkit.data.synthetic.visdial import write_visdial
from vlkit.data.synthetic.vqa import write_vg, write_vqa
from vlkit.data.synthetic.web_noise import ALL_NOISE_KINDS, NOISE_KINDS, write_web

FORMAT_VERSION = 3
PARTS = ("coco", "flickr30k", "nocaps", "web", "vqa", "vg", "nlvr2", "visdial", "msrvtt", "msvd")
MARKER = "WORLD.json"
_ARGUMENTS = (
    "num_images",
    "num_web_images",
    "noise",
    "seed",
    "image_size",
    "num_videos",
    "shard_size",
    "tasks",
    "max_objects",
    "coco_splits",
    "noise_kinds",
    "specific_captions",
    "short_captions",
)
# arguments added after format 3 was released: a WORLD.json without them was made with these values
_LATER_DEFAULTS = {
    "max_objects": 4,
    "coco_splits": None,
    "noise_kinds": list(NOISE_KINDS),
    "specific_captions": False,
    "short_captions": 0,
}
VIDEO_FRAMES = {"msrvtt": 16, "msvd": 24}


@dataclass
class WorldInfo:
    """What ``generate_world`` wrote (the content of ``WORLD.json`` plus the root)."""

    root: Path
    num_images: int
    num_web_images: int
    noise: float
    seed: int
    image_size: int
    num_videos: int
    shard_size: int
    tasks: tuple[str, ...] = PARTS
    max_objects: int = 4
    coco_splits: tuple[int, int, int] | None = None
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    specific_captions: bool = False
    short_captions: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def spec(self) -> dict:
        """The arguments that determine the world's content (two worlds with equal specs are identical)."""
        return {
            "format_version": self.format_version,
            "num_images": self.num_images,
            "num_web_images": self.num_web_images,
            "noise": self.noise,
            "seed": self.seed,
            "image_size": self.image_size,
            "num_videos": self.num_videos,
            "shard_size": self.shard_size,
            "tasks": list(self.tasks),
            "max_objects": self.max_objects,
            "coco_splits": None if self.coco_splits is None else list(self.coco_splits),
            "noise_kinds": list(self.noise_kinds),
            "specific_captions": self.specific_captions,
            "short_captions": self.short_captions,
        }

    def matches(self, written: dict | None) -> bool:
        """Whether ``written`` (a parsed ``WORLD.json``) describes a world identical to this one."""
        if written is None:
            return False
        return all(written.get(k, _LATER_DEFAULTS.get(k)) == v for k, v in self.spec().items())


@dataclass
class WorldArgs:
    """``generate_world``'s arguments as a config section (the ``world:`` of a pipeline ``synth`` stage)."""

    num_images: int = 600
    num_web_images: int = 1200
    noise: float = 0.4
    seed: int = 0
    image_size: int = 96
    num_videos: int = 120
    tasks: list[str] | None = None
    shard_size: int = 200
    max_objects: int = 4
    coco_splits: list[int] | None = None
    noise_kinds: list[str] = field(default_factory=lambda: list(NOISE_KINDS))
    specific_captions: bool = False
    short_captions: int = 0
    progress: bool = True


def _check(info: WorldInfo) -> None:
    """Raise ValueError naming the argument that makes no world."""
    if info.num_images < 5:
        raise ValueError(f"num_images (--num-images) must be at least 5 (train/val/test), got {info.num_images}")
    if info.num_web_images < 1 or info.num_videos < 1:
        raise ValueError("num_web_images (--num-web-images) and num_videos (--num-videos) must be at least 1")
    if not 0.0 <= info.noise <= 1.0:
        raise ValueError(f"noise (--noise) is a fraction in [0, 1], got {info.noise}")
    if info.seed < 0:
        raise ValueError(f"seed (--seed) must be non-negative, got {info.seed}")
    if not 16 <= info.image_size <= 1024:
        raise ValueError(f"image_size (--image-size) must be in [16, 1024], got {info.image_size}")
    if info.shard_size < 1:
        raise ValueError(f"shard_size (--shard-size) must be at least 1, got {info.shard_size}")
    if not 1 <= info.max_objects <= 4:
        raise ValueError(f"max_objects (--max-objects) must be in [1, 4], got {info.max_objects}")
    if info.coco_splits is not None and (len(info.coco_splits) != 3 or min(info.coco_splits) < 1):
        raise ValueError(
            f"coco_splits (--coco-splits) is 3 positive image counts (train val test), got {info.coco_splits}"
        )
    if not 0 <= info.short_captions <= 5:
        raise ValueError(f"short_captions (--short-captions) must be in [0, 5], got {info.short_captions}")
    bad_kinds = sorted(set(info.noise_kinds) - set(ALL_NOISE_KINDS))
    if bad_kinds or not info.noise_kinds:
        raise ValueError(f"noise_kinds (--noise-kinds) must be some of {', '.join(ALL_NOISE_KINDS)}, got {bad_kinds}")


def _parts(info: WorldInfo) -> dict[str, Callable[[Path], dict[str, int]]]:
    """Part name -> function writing it under a root and returning its counts."""
    n, seed, size = info.num_images, info.seed, info.image_size
    coco = coco_set(
        seed, n, info.max_objects, info.coco_splits, info.specific_captions, info.short_captions
    )  # VQA and VG are asked on the COCO images, as in VQAv2
    video_size = min(96, max(64, size))

    def write_coco(root: Path) -> dict[str, int]:
        write_images(root / "coco" / "images", coco, seed, size)
        return write_karpathy(root / "coco", "coco_karpathy", coco, with_gt=True)

    def write_flickr(root: Path) -> dict[str, int]:
        items = flickr_set(seed, max(10, n // 3), info.max_objects)
        write_images(root / "flickr30k" / "images", items, seed, size)
        return write_karpathy(root / "flickr30k", "flickr30k", items, with_gt=False)

    def write_nocaps_part(root: Path) -> dict[str, int]:
        items = nocaps_set(seed, max(5, n // 10))
        write_images(root / "nocaps" / "images", items, seed, size)
        return write_nocaps(root / "nocaps", items)

    nlvr_sizes = {"train": max(20, n // 2), "dev": max(10, n // 10), "test": max(10, n // 10)}
    return {
        "coco": write_coco,
        "flickr30k": write_flickr,
        "nocaps": write_nocaps_part,
        "web": lambda root: write_web(
            root, seed, info.num_web_images, info.noise, size, info.shard_size, info.max_objects, info.noise_kinds
        ),
        "vqa": lambda root: write_vqa(root, seed, coco, size),
        "vg": lambda root: write_vg(root, seed, coco, size),
        "nlvr2": lambda root: write_nlvr(root, seed, nlvr_sizes, size),
        "visdial": lambda root: write_visdial(root, seed, {"train": max(10, n // 6), "val": max(5, n // 20)}, size),
        "msrvtt": lambda root: write_videos(root, seed, "msrvtt", info.num_videos, video_size, VIDEO_FRAMES["msrvtt"]),
        "msvd": lambda root: write_videos(root, seed, "msvd", info.num_videos, video_size, VIDEO_FRAMES["msvd"]),
    }


def read_world(root: str | Path) -> dict | None:
    """The parsed ``WORLD.json`` of a complete world at ``root``, or None."""
    marker = Path(root) / MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _replaceable(root: Path) -> bool:
    """Whether ``root`` may be deleted to make room: absent, empty, a world or what is left of one."""
    if not root.exists():
        return True
    if not root.is_dir():
        return False
    names = {p.name for p in root.iterdir()}
    return MARKER in names or names <= set(PARTS)


def _remove_stale_temporaries(root: Path) -> None:
    """Delete temporary folders of generations whose process is gone (killed mid-way)."""
    prefix = f".{root.name}."
    for tmp in root.parent.glob(f"{prefix}*-*-*"):
        try:
            pid = int(tmp.name[len(prefix) :].split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(tmp, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def generate_world(
    out_dir: str | Path,
    num_images: int = 600,
    num_web_images: int = 1200,
    noise: float = 0.4,
    seed: int = 0,
    image_size: int = 96,
    num_videos: int = 120,
    tasks: Iterable[str] | None = None,
    shard_size: int = 200,
    progress: bool = True,
    max_objects: int = 4,
    coco_splits: Sequence[int] | None = None,
    noise_kinds: Sequence[str] = NOISE_KINDS,
    specific_captions: bool = False,
    short_captions: int = 0,
) -> WorldInfo:
    """Write the shapes world under ``out_dir`` (nothing is done when an identical world is there).

    Args:
        out_dir: The world's root; replaced if it holds a different world, refused if it holds other files.
        num_images: COCO-style images (Karpathy split 70/15/15); Flickr30k, NoCaps, NLVR2 and VisDial scale with it.
        num_web_images: Images of the noisy web pool (json list and webdataset shards).
        noise: Fraction of web captions that are noise (swapped, generic, wrong_attribute, truncated).
        seed: Seed of everything; the same arguments give byte-identical annotation files and images.
        image_size: Side of the square images in pixels (videos use it clamped to 64-96).
        num_videos: Clips of each of MSRVTT and MSVD.
        tasks: Parts to write (default all): coco, flickr30k, nocaps, web, vqa, vg, nlvr2, visdial, msrvtt, msvd.
        shard_size: Web samples per webdataset tar shard.
        progress: Print one line per part with its time.
        max_objects: Most objects in a scene of the COCO/Flickr30k-style sets and the web pool (1-4; 1 makes
            a world that tiny models learn in minutes, as the fast reproduction uses).
        coco_splits: (train, val, test) images of the COCO-style set instead of 70/15/15 % of ``num_images``
            (the quickstart's world: few human pairs, a large test set).
        noise_kinds: Kinds of web noise, in equal shares (web_noise.py; ``misnamed`` is the systematic one).
        specific_captions: COCO-style captions always name the object (no "a single shape on a dotted
            background", which fits a quarter of a one-object world's images alike).
        short_captions: How many of each COCO-style image's five captions name only an object ("a blue
            square"), as short human captions do (0-5).
    """
    root = Path(out_dir)
    wanted = set(PARTS if tasks is None else tasks)
    if not wanted or wanted - set(PARTS):
        unknown = ", ".join(sorted(wanted - set(PARTS))) or "none given"
        raise ValueError(f"tasks (--tasks) must name some of {', '.join(PARTS)} (unknown: {unknown})")
    chosen = tuple(p for p in PARTS if p in wanted)
    info = WorldInfo(
        root,
        num_images,
        num_web_images,
        float(noise),
        seed,
        image_size,
        num_videos,
        shard_size,
        chosen,
        max_objects,
        None if coco_splits is None else tuple(int(x) for x in coco_splits),
        tuple(noise_kinds),
        bool(specific_captions),
        int(short_captions),
    )
    _check(info)
    existing = read_world(root)
    if info.matches(existing):
        info.counts = existing.get("counts", {})
        return info
    if not _replaceable(root):
        raise ValueError(f"{root} exists and is not a synthetic world: choose a new or empty output directory (--out)")
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(root)
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        start = time.perf_counter()
        parts = _parts(info)
        for name in chosen:
            t = time.perf_counter()
            info.counts[name] = parts[name](tmp)
            if progress:
                print(f"shapes world: {name:<9} {time.perf_counter() - t:5.2f}s  {info.counts[name]}", flush=True)
        dump_json(tmp / MARKER, {**info.spec(), "counts": info.counts})  # last: marks the world complete
        _swap_into_place(tmp, root, info)
        if progress:
            print(f"shapes world: written to {root} in {time.perf_counter() - start:.1f}s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def _swap_into_place(tmp: Path, root: Path, info: WorldInfo) -> None:
    """Replace ``root`` by ``tmp`` with renames, so ``root`` is never a half-written world."""
    old = root.parent / f".{root.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if root.exists():
        os.rename(root, old)
    try:
        os.rename(tmp, root)
    except OSError:
        # Another process put a world there in the meantime: fine if it is the same world.
        if not info.matches(read_world(root)):
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (POSIX); elsewhere the atomic swap alone protects the world."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def default_world_root() -> Path:
    """Where the default world lives: ``$VLKIT_CACHE/datasets/shapes``."""
    from vlkit.common.paths import cache_root

    return cache_root() / "datasets" / "shapes"


def ensure_world(root: Path | None = None, **kwargs: object) -> Path:
    """The world at ``root`` (default ``$VLKIT_CACHE/datasets/shapes``), generated on first use.

    Without ``kwargs`` any complete world of the current format there is used as it is (also one made with
    other arguments by ``vlkit data synth``); a world of an older format is regenerated with its arguments.
    With ``kwargs`` (arguments of ``generate_world``) the world is regenerated unless it already matches.
    Generation runs under a file lock, so concurrent first uses generate it once.
    """
    path = Path(root) if root is not None else default_world_root()
    current = read_world(path)
    if not kwargs and current is not None and current.get("format_version") == FORMAT_VERSION:
        return path
    with _file_lock(path.parent / f".{path.name}.lock"):
        current = read_world(path)
        if kwargs:
            generate_world(path, **kwargs)  # type: ignore[arg-type]
        elif current is None or current.get("format_version") != FORMAT_VERSION:  # else: made while we waited
            args = {k: current[k] for k in _ARGUMENTS if k in current} if current is not None else {}
            print(f"vlkit: generating the synthetic shapes world in {path} (first use) ...", flush=True)
            generate_world(path, **args)
    return path


__all__ = [
    "FORMAT_VERSION",
    "PARTS",
    "WorldArgs",
    "WorldInfo",
    "default_world_root",
    "ensure_world",
    "generate_world",
    "read_world",
]

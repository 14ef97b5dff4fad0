"""Image-classification folders drawn from the shapes world: one object per image, one folder per class.

``<out>/<split>/<class>/<index>.jpg`` where the class is the object's colour (or shape) and everything
else (the other attribute, size, place, background) varies: the layout the ``image_folder`` builder reads,
for zero-shot classification (``vlkit data synth-classes``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vlkit.data.synthetic.render import encode_jpeg, render_scene
from vlkit.data.synthetic.scene import COLOURS, SHAPES, pick, random_scene, rng_for

ATTRIBUTES = {"colour": tuple(COLOURS), "shape": SHAPES}


def write_class_folders(
    out: str | Path,
    attribute: str = "colour",
    per_class: int = 20,
    seed: int = 0,
    image_size: int = 64,
    split: str = "val",
) -> dict[str, int]:
    """Write ``per_class`` images of each class of ``attribute`` under ``out/split``; returns images per class.

    The same arguments give the same bytes (each image has its own seeded generator).
    """
    if attribute not in ATTRIBUTES:
        raise ValueError(f"attribute (--attribute) must be one of {', '.join(ATTRIBUTES)}, got {attribute!r}")
    if per_class < 1 or not 16 <= image_size <= 1024:
        raise ValueError(f"per_class must be >= 1 and image_size in [16, 1024], got {per_class}, {image_size}")
    counts = {}
    for value in ATTRIBUTES[attribute]:
        folder = Path(out) / split / value
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rng = rng_for(seed, f"classes/{split}/{attribute}/{value}", i)
            colour = value if attribute == "colour" else pick(rng, COLOURS)
            shape = value if attribute == "shape" else pick(rng, SHAPES)
            scene = random_scene(rng, max_objects=1, forced=[(colour, shape)])
            (folder / f"{i:04d}.jpg").write_bytes(encode_jpeg(render_scene(scene, image_size, rng)))
        counts[value] = per_class
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vlkit data synth-classes``."""
    parser.add_argument("--out", required=True, help="output folder (gets <split>/<class>/*.jpg)")
    parser.add_argument("--attribute", choices=list(ATTRIBUTES), default="colour", help="what the classes are")
    parser.add_argument("--per-class", type=int, default=20, help="images per class")
    parser.add_argument("--image-size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="seed (same seed, same bytes)")
    parser.add_argument("--split", default="val", help="the split folder's name")


def run(args: argparse.Namespace) -> int:
    counts = write_class_folders(args.out, args.attribute, args.per_class, args.seed, args.image_size, args.split)
    print(f"{sum(counts.values())} images in {len(counts)} classes under {Path(args.out) / args.split}")
    return 0


__all__ = ["ATTRIBUTES", "write_class_folders"]

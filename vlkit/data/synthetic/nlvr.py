"""NLVR2-style image pairs with a statement about both images, exactly half of them true.

Statements compare the two images (counts, an object in both, in exactly one, in at least one) or state a
spatial relation inside one of them, so a model must look at both images and at layout.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vlkit.data.synthetic.files import dump_json
from vlkit.data.synthetic.render import ImageWriter
from vlkit.data.synthetic.scene import COLOURS, NUMBER_WORDS, SHAPES, Scene, article, pick, random_scene, rng_for

NLVR_SPLITS = ("train", "dev", "test")


def _attribute(a: Scene, b: Scene, rng: np.random.Generator) -> tuple[str, str]:
    """A (colour, shape) pair, usually of an object in one of the images (so both truth values occur)."""
    objs = a.objects + b.objects
    if rng.random() < 0.6:
        o = objs[int(rng.integers(len(objs)))]
        return o.colour, o.shape
    return pick(rng, COLOURS), pick(rng, SHAPES)


def random_statement(a: Scene, b: Scene, rng: np.random.Generator) -> tuple[str, bool]:
    """A statement about the pair (``a`` is the left image) and whether it is true."""
    colour, shape = _attribute(a, b, rng)
    kind = int(rng.integers(8))
    if kind == 0:
        return f"at least one image contains {article(colour)} {colour} {shape}", a.has(colour, shape) or b.has(
            colour, shape
        )
    if kind == 1:
        return f"both images contain {article(shape)} {shape}", a.has(shape=shape) and b.has(shape=shape)
    if kind == 2:
        return f"both images contain {article(colour)} {colour} shape", a.has(colour=colour) and b.has(colour=colour)
    if kind == 3:
        return f"exactly one image contains {article(shape)} {shape}", a.has(shape=shape) != b.has(shape=shape)
    if kind == 4:
        more = rng.random() < 0.5
        na, nb = len(a.objects), len(b.objects)
        word = "more" if more else "fewer"
        return f"the left image contains {word} shapes than the right image", na > nb if more else na < nb
    side, scene = ("left", a) if rng.random() < 0.5 else ("right", b)
    if kind == 5:
        n = int(np.clip(len(scene.objects) + rng.integers(-1, 2), 1, 4))
        noun = "shape" if n == 1 else "shapes"
        return f"the {side} image contains exactly {NUMBER_WORDS[n]} {noun}", len(scene.objects) == n
    if kind == 6:
        n = int(np.clip(len(a.objects) + len(b.objects) + rng.integers(-1, 2), 2, 8))
        return f"there are {NUMBER_WORDS[n]} shapes in total", len(a.objects) + len(b.objects) == n
    # A relation inside one image: true when some such object is left of / above some other one.
    other_colour, other_shape = _attribute(a, b, rng)
    horizontal = rng.random() < 0.5
    truth = any(
        x.colour == colour
        and x.shape == shape
        and y.colour == other_colour
        and y.shape == other_shape
        and (x.col < y.col if horizontal else x.row < y.row)
        for x in scene.objects
        for y in scene.objects
    )
    relation = "to the left of" if horizontal else "above"
    text = f"in the {side} image {article(colour)} {colour} {shape} is {relation} {article(other_colour)} "
    return text + f"{other_colour} {other_shape}", truth


def nlvr_example(seed: int, split: str, index: int, want: bool) -> tuple[Scene, Scene, str]:
    """Two scenes and a statement about them whose truth value is ``want``."""
    rng = rng_for(seed, "nlvr", split, index)
    while True:
        a, b = random_scene(rng), random_scene(rng)
        for _ in range(40):
            text, truth = random_statement(a, b, rng)
            if truth == want:
                return a, b, text


def write_nlvr(root: Path, seed: int, sizes: dict[str, int], image_size: int) -> dict[str, int]:
    """``nlvr2/``: image pairs and ``nlvr_{train,dev,test}.json`` with balanced True/False labels."""
    writer = ImageWriter(root / "nlvr2" / "images", image_size)
    counts = {}
    for split, n in sizes.items():
        labels = rng_for(seed, "nlvr/labels", split).permutation([True] * ((n + 1) // 2) + [False] * (n // 2))
        rows = []
        for i, want in enumerate(labels):
            a, b, text = nlvr_example(seed, split, i, bool(want))
            names = [f"{split}/{split}-{i}-img{k}.jpg" for k in (0, 1)]
            for k, (rel, scene) in enumerate(zip(names, (a, b), strict=True)):
                writer.write(rel, scene, rng_for(seed, "nlvr/pixels", split, i, k))
            rows.append({"images": names, "sentence": text, "label": "True" if want else "False"})
        dump_json(root / "nlvr2" / "annotations" / f"nlvr_{split}.json", rows)
        counts[f"{split}_pairs"] = n
    return counts


__all__ = ["NLVR_SPLITS", "nlvr_example", "random_statement", "write_nlvr"]

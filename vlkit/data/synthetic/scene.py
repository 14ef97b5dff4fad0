"""The objects of the synthetic "shapes" world and how scenes of them are sampled.

A scene is 1-4 objects (shape × colour × size) placed in the cells of a 3×3 grid (with jitter, so the
layout is not pixel-regular) on a textured background. Grid cells make every spatial fact the captions
and questions state (left of, above, "in the top left corner") unambiguous.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {  # RGB
    "red": (215, 45, 40),
    "green": (45, 170, 70),
    "blue": (45, 85, 215),
    "yellow": (230, 205, 45),
    "purple": (145, 60, 185),
    "orange": (240, 135, 30),
}
SHAPES = ("circle", "square", "triangle", "diamond", "star")
PLURALS = {shape: shape + "s" for shape in SHAPES}
SIZES = ("small", "large")
BACKGROUNDS = ("plain", "striped", "dotted", "gradient")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight")
# (row, column) of a grid cell -> where it is, as a VQA answer ("where is the red circle" -> "top left").
REGIONS = {
    (0, 0): "top left",
    (0, 1): "top",
    (0, 2): "top right",
    (1, 0): "left",
    (1, 1): "middle",
    (1, 2): "right",
    (2, 0): "bottom left",
    (2, 1): "bottom",
    (2, 2): "bottom right",
}
# Objects never shown in the COCO-style sets: NoCaps-style novel combinations (the web pool has them).
HELD_OUT: frozenset[tuple[str, str]] = frozenset({("purple", "triangle"), ("orange", "diamond"), ("green", "star")})


@dataclass(frozen=True)
class Obj:
    """One object; ``row``/``col`` is its grid cell, ``cx``/``cy`` its jittered centre (fractions of the side)."""

    shape: str
    colour: str
    size: str
    row: int
    col: int
    cx: float
    cy: float
    angle: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"

    @property
    def region(self) -> str:
        return REGIONS[(self.row, self.col)]


@dataclass(frozen=True)
class Scene:
    """Objects (sorted left to right, then top to bottom) on a background of kind ``background``."""

    objects: tuple[Obj, ...]
    background: str
    bg_colour: tuple[int, int, int]

    def count(self, colour: str | None = None, shape: str | None = None, size: str | None = None) -> int:
        """How many objects match every attribute given."""
        return sum(
            (colour is None or o.colour == colour)
            and (shape is None or o.shape == shape)
            and (size is None or o.size == size)
            for o in self.objects
        )

    def has(self, colour: str | None = None, shape: str | None = None) -> bool:
        return self.count(colour, shape) > 0

    def left_of(self, ref: Obj) -> list[Obj]:
        return [o for o in self.objects if o.col < ref.col]

    def right_of(self, ref: Obj) -> list[Obj]:
        return [o for o in self.objects if o.col > ref.col]

    def above(self, ref: Obj) -> list[Obj]:
        return [o for o in self.objects if o.row < ref.row]

    def below(self, ref: Obj) -> list[Obj]:
        return [o for o in self.objects if o.row > ref.row]


def rng_for(seed: int, *keys: str | int) -> np.random.Generator:
    """A generator for one item of one stream: every image, caption set and question set has its own,
    so a part of the world comes out identical whichever other parts are generated."""
    entropy = [seed] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng(entropy)


def pick(rng: np.random.Generator, options: Iterable[str]) -> str:
    """One element of ``options``, uniformly."""
    seq = tuple(options)
    return seq[int(rng.integers(len(seq)))]


def random_object(
    rng: np.random.Generator,
    row: int,
    col: int,
    exclude: Iterable[tuple[str, str]] = (),
    colour: str | None = None,
    shape: str | None = None,
) -> Obj:
    """An object in cell (``row``, ``col``); (colour, shape) pairs in ``exclude`` are never drawn."""
    banned = set(exclude)
    while True:
        c, s = colour or pick(rng, COLOURS), shape or pick(rng, SHAPES)
        if (c, s) not in banned:
            break
    jx, jy = rng.uniform(-0.055, 0.055, size=2)
    # Small rotations only: a square turned by 45 degrees would be a diamond.
    angle = float(rng.uniform(-12.0, 12.0)) if s in ("square", "diamond") else float(rng.uniform(-25.0, 25.0))
    # Cell centres at 0.19/0.5/0.81 keep a large, jittered shape inside the image.
    return Obj(s, c, pick(rng, SIZES), row, col, 0.19 + 0.31 * col + float(jx), 0.19 + 0.31 * row + float(jy), angle)


def random_background(rng: np.random.Generator) -> tuple[str, tuple[int, int, int]]:
    """A background kind and a dark or light, slightly tinted, grey base colour."""
    grey = int(rng.integers(25, 85)) if rng.random() < 0.5 else int(rng.integers(170, 235))
    tint = rng.integers(-14, 15, size=3)
    return pick(rng, BACKGROUNDS), tuple(int(np.clip(grey + t, 0, 255)) for t in tint)


def random_scene(
    rng: np.random.Generator,
    min_objects: int = 1,
    max_objects: int = 4,
    exclude: Iterable[tuple[str, str]] = (),
    forced: Iterable[tuple[str, str]] = (),
) -> Scene:
    """``min_objects``..``max_objects`` objects in distinct cells; ``forced`` (colour, shape) pairs come first."""
    forced = list(forced)
    n = max(len(forced), int(rng.integers(min_objects, max_objects + 1)))
    cells = rng.permutation(9)[:n]
    objs = []
    for k, cell in enumerate(cells):
        colour, shape = forced[k] if k < len(forced) else (None, None)
        objs.append(random_object(rng, int(cell) // 3, int(cell) % 3, exclude, colour, shape))
    background, bg_colour = random_background(rng)
    return Scene(tuple(sorted(objs, key=lambda o: (o.col, o.row))), background, bg_colour)


def unique_reference(scene: Scene, obj: Obj) -> str | None:
    """The shortest phrase naming ``obj`` alone in ``scene`` ("circle", "red circle", "small red circle")."""
    if scene.count(shape=obj.shape) == 1:
        return obj.shape
    if scene.count(obj.colour, obj.shape) == 1:
        return obj.name
    if scene.count(obj.colour, obj.shape, obj.size) == 1:
        return f"{obj.size} {obj.name}"
    return None


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


__all__ = [
    "BACKGROUNDS",
    "COLOURS",
    "HELD_OUT",
    "NUMBER_WORDS",
    "PLURALS",
    "REGIONS",
    "SHAPES",
    "SIZES",
    "Obj",
    "Scene",
    "article",
    "pick",
    "random_object",
    "random_scene",
    "rng_for",
    "unique_reference",
]

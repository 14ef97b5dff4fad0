"""Scenes of the synthetic "shapes" world: random objects, rendered with OpenCV, and their descriptions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {  # RGB
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 210, 40),
    "purple": (150, 60, 190),
    "orange": (245, 140, 30),
}
SHAPES = ("circle", "square", "triangle", "diamond")
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles", "diamond": "diamonds"}
SIZES = ("small", "large")
BACKGROUNDS = ("plain", "striped", "dotted")
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


@dataclass(frozen=True)
class Obj:
    shape: str
    colour: str
    size: str
    cx: float  # centre, as a fraction of the image side
    cy: float

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class Scene:
    objects: tuple[Obj, ...]
    background: str
    bg_colour: tuple[int, int, int]


def random_scene(rng: np.random.Generator, max_objects: int = 4, exclude: set[tuple[str, str]] | None = None) -> Scene:
    """1..max_objects objects on a 3x3 grid (no overlaps), skipping (colour, shape) pairs in ``exclude``."""
    n = int(rng.integers(1, max_objects + 1))
    cells = rng.permutation(9)[:n]
    objs = []
    for cell in cells:
        while True:
            shape, colour = SHAPES[rng.integers(len(SHAPES))], list(COLOURS)[rng.integers(len(COLOURS))]
            if not exclude or (colour, shape) not in exclude:
                break
        jitter = rng.uniform(-0.06, 0.06, size=2)
        objs.append(
            Obj(
                shape,
                colour,
                SIZES[rng.integers(2)],
                (cell % 3 + 0.5) / 3 + jitter[0],
                (cell // 3 + 0.5) / 3 + jitter[1],
            )
        )
    grey = int(rng.integers(20, 90)) if rng.random() < 0.5 else int(rng.integers(170, 240))
    bg = tuple(int(np.clip(grey + rng.integers(-15, 16), 0, 255)) for _ in range(3))
    return Scene(tuple(sorted(objs, key=lambda o: (o.cx, o.cy))), BACKGROUNDS[rng.integers(len(BACKGROUNDS))], bg)


def render(scene: Scene, size: int, rng: np.random.Generator) -> np.ndarray:
    """An RGB uint8 image of ``scene`` with background texture, colour jitter and pixel noise."""
    import cv2

    img = np.empty((size, size, 3), np.uint8)
    img[:] = scene.bg_colour
    stripe = max(2, size // 12)
    if scene.background == "striped":
        shade = tuple(int(c * 0.8) for c in scene.bg_colour)
        for x in range(0, size, 2 * stripe):
            cv2.rectangle(img, (x, 0), (x + stripe - 1, size - 1), shade, -1)
    elif scene.background == "dotted":
        shade = tuple(int(min(255, c * 1.25 + 10)) for c in scene.bg_colour)
        for y in range(stripe, size, 2 * stripe):
            for x in range(stripe, size, 2 * stripe):
                cv2.circle(img, (x, y), max(1, stripe // 3), shade, -1)
    for o in scene.objects:
        r = size * (0.13 if o.size == "large" else 0.075) * rng.uniform(0.9, 1.1)
        cx, cy = o.cx * size, o.cy * size
        colour = tuple(int(np.clip(c + rng.integers(-20, 21), 0, 255)) for c in COLOURS[o.colour])
        if o.shape == "circle":
            cv2.circle(img, (int(cx), int(cy)), int(r), colour, -1, lineType=cv2.LINE_AA)
        elif o.shape == "square":
            cv2.rectangle(img, (int(cx - r), int(cy - r)), (int(cx + r), int(cy + r)), colour, -1)
        else:
            pts = (
                [(cx, cy - r), (cx - r, cy + r * 0.8), (cx + r, cy + r * 0.8)]
                if o.shape == "triangle"
                else [(cx, cy - r * 1.2), (cx + r, cy), (cx, cy + r * 1.2), (cx - r, cy)]
            )
            cv2.fillPoly(img, [np.array(pts, np.int32)], colour, lineType=cv2.LINE_AA)
    noise = rng.integers(-12, 13, size=img.shape, dtype=np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _count_phrase(objs: list[Obj]) -> str:
    by_name: dict[str, int] = {}
    for o in objs:
        by_name[o.name] = by_name.get(o.name, 0) + 1
    parts = []
    for name, n in by_name.items():
        colour, shape = name.split()
        parts.append(f"{_article(colour)} {name}" if n == 1 else f"{NUMBER_WORDS[n]} {colour} {PLURALS[shape]}")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def clean_captions(scene: Scene, rng: np.random.Generator, n: int = 5) -> list[str]:
    """``n`` human-style captions: counts, colours, sizes, relations and background, with varied wording."""
    objs = list(scene.objects)
    first = objs[0]
    cands = [
        f"{_count_phrase(objs)} on a {scene.background} background",
        f"a picture of {_count_phrase(objs)}",
        f"there is {_count_phrase(objs)} in this image",
        f"{_article(first.size)} {first.size} {first.name} on a {scene.background} background",
        f"{NUMBER_WORDS[len(objs)]} {'shape' if len(objs) == 1 else 'shapes'} on a {scene.background} background",
    ]
    if len(objs) >= 2:
        a, b = objs[0], objs[-1]
        cands += [
            f"{_article(a.colour)} {a.name} to the left of {_article(b.colour)} {b.name}",
            f"{_article(b.colour)} {b.name} to the right of {_article(a.colour)} {a.name}",
            f"{_article(a.size)} {a.size} {a.name} and {_article(b.size)} {b.size} {b.name}",
        ]
        top, bottom = min(objs, key=lambda o: o.cy), max(objs, key=lambda o: o.cy)
        if bottom.cy - top.cy > 0.2:
            cands.append(f"{_article(top.colour)} {top.name} above {_article(bottom.colour)} {bottom.name}")
    else:
        cands += [f"a single {first.name}", f"{_article(first.colour)} {first.name} in the picture"]
    order = rng.permutation(len(cands))
    return [cands[i] for i in order[:n]] + [cands[order[0]]] * max(0, n - len(cands))


def web_caption(scene: Scene, rng: np.random.Generator) -> str:
    """A terse alt-text style caption of the main object(s)."""
    o = scene.objects[int(rng.integers(len(scene.objects)))]
    forms = [f"{o.name}", f"{o.colour} {o.shape} image", f"{o.shape} in {o.colour}", f"{o.size} {o.name}"]
    return forms[int(rng.integers(len(forms)))]

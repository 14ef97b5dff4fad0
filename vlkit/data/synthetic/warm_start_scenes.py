"""The warm start's scenes: drawn in memory from a seed stream no generated world uses.

The tiny encoders' warm start (the miniature of BLIP's ImageNet ViT + BERT initialisation) reads scenes
no split of any world contains: scene ``i`` comes from ``rng_for(seed, "warm_start", i)``, never holds a
NoCaps-style held-out object, and has a label vector for the ViT's supervised read-out and
:data:`TEXTS_PER_SCENE` captions (five human-style, then one web-style) for the text encoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlkit.data.synthetic.captions import clean_captions, web_caption
from vlkit.data.synthetic.render import render_scene
from vlkit.data.synthetic.scene import BACKGROUNDS, COLOURS, HELD_OUT, SHAPES, SIZES, Scene, random_scene, rng_for

CELLS = 9  # the 3x3 grid
HUMAN_CAPTIONS = 5
TEXTS_PER_SCENE = HUMAN_CAPTIONS + 1  # five human-style captions and one web-style alt-text
RENDER_SIZE = 96  # rendered side in pixels; the image processor resizes to the model's input
# classes per scored attribute of an occupied cell, in the order of the label vector
ATTRIBUTE_CLASSES: dict[str, int] = {"colour": len(COLOURS), "shape": len(SHAPES), "size": len(SIZES)}
BACKGROUND_CLASSES = len(BACKGROUNDS)


@dataclass(frozen=True)
class DrawnScene:
    """One scene: its rendered RGB image, its :func:`scene_labels` and its captions."""

    image: np.ndarray
    labels: list[int]
    captions: list[str]


def scene_labels(scene: Scene) -> list[int]:
    """``[9 occupancy + 9 colour + 9 shape + 9 size + 1 background]`` (attributes -1 where a cell is empty)."""
    colours, shapes = list(COLOURS), list(SHAPES)
    occupied, colour, shape, size = [0] * CELLS, [-1] * CELLS, [-1] * CELLS, [-1] * CELLS
    for obj in scene.objects:
        cell = obj.row * 3 + obj.col
        occupied[cell] = 1
        colour[cell], shape[cell], size[cell] = (
            colours.index(obj.colour),
            shapes.index(obj.shape),
            SIZES.index(obj.size),
        )
    return occupied + colour + shape + size + [BACKGROUNDS.index(scene.background)]


def draw_scene(index: int, seed: int, max_objects: int, specific_captions: bool) -> DrawnScene:
    """Scene ``index`` of the warm-start stream of ``seed`` (the render and the captions share its RNG)."""
    rng = rng_for(seed, "warm_start", index)
    scene = random_scene(rng, max_objects=max_objects, exclude=HELD_OUT)
    image = render_scene(scene, RENDER_SIZE, rng)
    captions = [*clean_captions(scene, rng, n=HUMAN_CAPTIONS, specific=specific_captions), web_caption(scene, rng).text]
    return DrawnScene(image, scene_labels(scene), captions)


__all__ = [
    "ATTRIBUTE_CLASSES",
    "BACKGROUND_CLASSES",
    "CELLS",
    "HUMAN_CAPTIONS",
    "TEXTS_PER_SCENE",
    "DrawnScene",
    "draw_scene",
    "scene_labels",
]

"""Captions of shapes-world scenes: five human-style ones (the COCO of this world) and terse web alt-text.

Human captions vary their template and wording (synonyms for sizes, framings, relations, positions) and
state counts, colours, sizes, left/right/above/below relations and the background; every one is true of
its scene. Web captions are short alt-text ("red circle", "two blue stars") that name real objects, so a
captioner trained on the human captions can write richer text than the web provides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vlkit.data.synthetic.scene import NUMBER_WORDS, PLURALS, Obj, Scene, article, pick

SIZE_WORDS = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
FRAMES = ("a picture of", "an image of", "a drawing of", "a photo of", "an illustration of")
REGION_PHRASES = {
    "top left": "in the top left corner",
    "top": "at the top",
    "top right": "in the top right corner",
    "left": "on the left",
    "middle": "in the middle",
    "right": "on the right",
    "bottom left": "in the bottom left corner",
    "bottom": "at the bottom",
    "bottom right": "in the bottom right corner",
}


def _background(scene: Scene, rng: np.random.Generator) -> str:
    return pick(rng, ("on a {} background", "against a {} background", "on a {} backdrop")).format(scene.background)


def object_words(obj: Obj, rng: np.random.Generator, size_prob: float = 0.4) -> str:
    """ "red circle", with probability ``size_prob`` with a size word ("big red circle")."""
    size = f"{pick(rng, SIZE_WORDS[obj.size])} " if rng.random() < size_prob else ""
    return f"{size}{obj.colour} {obj.shape}"


def object_phrase(obj: Obj, rng: np.random.Generator, size_prob: float = 0.4) -> str:
    """ "a red circle", sometimes with its size ("a big red circle")."""
    words = object_words(obj, rng, size_prob)
    return f"{article(words)} {words}"


def count_phrase(scene: Scene) -> str:
    """Every object, grouped: "a red circle and two green triangles"."""
    groups: dict[tuple[str, str], int] = {}
    for o in scene.objects:
        groups[(o.colour, o.shape)] = groups.get((o.colour, o.shape), 0) + 1
    parts = [
        f"{article(colour)} {colour} {shape}" if n == 1 else f"{NUMBER_WORDS[n]} {colour} {PLURALS[shape]}"
        for (colour, shape), n in groups.items()
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _relation(scene: Scene, rng: np.random.Generator) -> str | None:
    objs = scene.objects
    pairs = [(a, b, "h") for a in objs for b in objs if a.col < b.col]
    pairs += [(a, b, "v") for a in objs for b in objs if a.row < b.row]
    if not pairs:
        return None
    a, b, axis = pairs[int(rng.integers(len(pairs)))]
    pa, pb = object_phrase(a, rng), object_phrase(b, rng)
    if axis == "h":
        forms = (f"{pa} to the left of {pb}", f"{pb} to the right of {pa}", f"{pa} is left of {pb}")
    else:
        forms = (f"{pa} above {pb}", f"{pb} below {pa}", f"{pb} under {pa}")
    return pick(rng, forms)


def _positions(scene: Scene, rng: np.random.Generator) -> str:
    objs = list(scene.objects)
    shown = [objs[int(i)] for i in sorted(rng.permutation(len(objs))[: min(2, len(objs))])]
    return " and ".join(f"{object_phrase(o, rng)} {REGION_PHRASES[o.region]}" for o in shown)


def _grounded_candidates(scene: Scene, rng: np.random.Generator) -> list[str]:
    """Captions that each name an object with where it is ("a picture of a big red circle on the left")."""
    out = []
    for k in range(7):
        o = scene.objects[int(rng.integers(len(scene.objects)))]
        where = REGION_PHRASES[o.region]
        phrase = object_phrase(o, rng)
        out.append(
            (
                f"{phrase} {where}",
                f"{pick(rng, FRAMES)} {phrase} {where}",
                f"there is {phrase} {where}",
                f"{phrase} {where} {_background(scene, rng)}",
                f"just one {o.name} {where}" if len(scene.objects) == 1 else f"{phrase} {where}",
                f"{pick(rng, FRAMES)} {phrase} {where} {_background(scene, rng)}",
                f"{'a single' if len(scene.objects) == 1 else 'a'} {object_words(o, rng, 0.6)} {where}",
            )[k]
        )
    return out


def _candidates(scene: Scene, rng: np.random.Generator, specific: bool = False) -> list[str]:
    if specific:
        return _grounded_candidates(scene, rng)
    objs, n = scene.objects, len(scene.objects)
    first_plural = scene.count(objs[0].colour, objs[0].shape) > 1  # count_phrase starts with objs[0]'s group
    noun = pick(rng, ("shape", "object")) + ("s" if n > 1 else "")
    out = [
        f"{count_phrase(scene)} {_background(scene, rng)}",
        f"{pick(rng, FRAMES)} {count_phrase(scene)}",
        f"there {'are' if first_plural else 'is'} {count_phrase(scene)} "
        + pick(rng, ("in the picture", "in this image", _background(scene, rng))),
        f"{'a single' if n == 1 else NUMBER_WORDS[n]} {noun} {_background(scene, rng)}",
        _positions(scene, rng),
    ]
    colours = list(dict.fromkeys(o.colour for o in objs))
    if n == 1:
        o = objs[0]
        out += [
            f"a single {object_words(o, rng, 0.6)} {_background(scene, rng)}",
            f"just one {o.name} {REGION_PHRASES[o.region]}",
        ]
    else:
        out += [_relation(scene, rng) or _positions(scene, rng), _relation(scene, rng) or _positions(scene, rng)]
        colour_list = colours[0] if len(colours) == 1 else ", ".join(colours[:-1]) + " and " + colours[-1]
        out.append(f"{colour_list} shapes {_background(scene, rng)}")
        sizes = {o.size: o for o in objs}
        if len(sizes) == 2:
            big, small = sizes["large"], sizes["small"]
            out.append(f"{object_phrase(big, rng, 1.0)} and {object_phrase(small, rng, 1.0)}")
    return out


def _short_caption(scene: Scene, rng: np.random.Generator) -> str:
    """A caption naming one object and nothing else ("a blue square"), as short COCO captions do."""
    o = scene.objects[int(rng.integers(len(scene.objects)))]
    form = int(rng.integers(3))
    if form == 0:
        return object_phrase(o, rng)
    if form == 1:
        return f"{pick(rng, FRAMES)} {object_phrase(o, rng)}"
    return object_words(o, rng)


def clean_captions(
    scene: Scene, rng: np.random.Generator, n: int = 5, specific: bool = False, short: int = 0
) -> list[str]:
    """``n`` distinct human-style captions of ``scene`` (distinct as long as the scene allows).

    ``specific``: every caption names an object and where it is ("a picture of a red circle on the left"),
    never just the scene's kind ("a single shape on a dotted background", which in a one-object world fits a
    quarter of all images alike, or "a picture of a red circle", a thirtieth).
    ``short``: that many of the ``n`` name only an object ("a blue square"), the last ones.
    """
    if not 0 <= short <= n:
        raise ValueError(f"short captions must be between 0 and {n}, got {short}")
    chosen: list[str] = []
    for _ in range(4 if short < n else 0):
        cands = _candidates(scene, rng, specific)
        for i in rng.permutation(len(cands)):
            if cands[i] not in chosen:
                chosen.append(cands[i])
            if len(chosen) == n - short:
                break
        if len(chosen) == n - short:
            break
    chosen = (chosen * n)[: n - short]
    return chosen + [_short_caption(scene, rng) for _ in range(short)]


@dataclass(frozen=True)
class WebCaption:
    """Alt-text words and, per object mention, the positions of its colour and shape words."""

    words: tuple[str, ...]
    mentions: tuple[tuple[int, int, bool], ...]  # (colour index, shape index, shape word is plural)

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def mentioned(self) -> list[tuple[str, str]]:
        """(colour, singular shape) of every object the caption names."""
        return [(self.words[c], self.words[s][:-1] if plural else self.words[s]) for c, s, plural in self.mentions]


def web_caption(scene: Scene, rng: np.random.Generator) -> WebCaption:
    """A terse, true alt-text caption naming one or two of the scene's objects."""
    objs = scene.objects
    o = objs[int(rng.integers(len(objs)))]
    n_same = scene.count(o.colour, o.shape)
    form = int(rng.integers(7))
    if form == 0 or (form == 1 and n_same < 2) or (form == 2 and len(objs) < 2):
        return WebCaption((o.colour, o.shape), ((0, 1, False),))
    if form == 1:
        return WebCaption((NUMBER_WORDS[n_same], o.colour, PLURALS[o.shape]), ((1, 2, True),))
    if form == 2:
        other = objs[(objs.index(o) + 1 + int(rng.integers(len(objs) - 1))) % len(objs)]
        return WebCaption((o.colour, o.shape, "and", other.colour, other.shape), ((0, 1, False), (3, 4, False)))
    if form == 3:
        return WebCaption((pick(rng, SIZE_WORDS[o.size]), o.colour, o.shape), ((1, 2, False),))
    if form == 4:
        return WebCaption((o.colour, o.shape, "on", scene.background, "background"), ((0, 1, False),))
    if form == 5:
        return WebCaption((o.colour, o.shape, pick(rng, ("photo", "picture", "image", "drawing"))), ((0, 1, False),))
    return WebCaption((o.shape, "in", o.colour), ((2, 0, False),))


__all__ = [
    "FRAMES",
    "REGION_PHRASES",
    "SIZE_WORDS",
    "WebCaption",
    "clean_captions",
    "count_phrase",
    "object_phrase",
    "object_words",
    "web_caption",
]

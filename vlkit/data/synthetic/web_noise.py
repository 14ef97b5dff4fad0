"""The noisy web pool: terse alt-text captions, a labelled fraction of them corrupted in realistic ways.

Noise kinds (``web/noise_labels.json`` keeps the truth, so a CapFilt filter can be scored):

- ``swapped``: the clean caption of another web image, chosen so it names an object this image lacks;
- ``generic``: alt-text that describes nothing ("my favourite photo");
- ``wrong_attribute``: the clean caption with one colour or shape word changed to one absent from the image;
- ``truncated``: the clean caption cut off mid-phrase ("red circle on");
- ``misnamed``: the clean caption with every colour word renamed through one fixed confusion
  (:data:`COLOUR_CONFUSION`: red is always called "green", green "blue", ...), the systematic error of a
  mislabelled source, which teaches a model trained on it a wrong association (not in the default mix).

Exactly ``round(noise * n)`` images are noisy, the chosen kinds (``noise_kinds``) in equal shares.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vlkit.data.synthetic.captions import WebCaption, web_caption
from vlkit.data.synthetic.files import dump_json
from vlkit.data.synthetic.render import ImageWriter
from vlkit.data.synthetic.scene import COLOURS, PLURALS, SHAPES, Scene, random_scene, rng_for

NOISE_KINDS = ("swapped", "generic", "wrong_attribute", "truncated")  # the default mix
ALL_NOISE_KINDS = (*NOISE_KINDS, "misnamed")
# misnamed captions call every colour by the next one in COLOURS' order (a derangement: never the true colour)
COLOUR_CONFUSION = {c: list(COLOURS)[(k + 1) % len(COLOURS)] for k, c in enumerate(COLOURS)}
GENERIC_ALT_TEXTS = (
    "my favourite photo",
    "image",
    "click here to see more",
    "photo of the day",
    "new post",
    "untitled",
    "look at this",
    "best picture ever",
    "view larger image",
    "free stock photo",
    "more photos on my blog",
    "cover art",
    "download now",
    "abstract art print",
)
_SHAPE_WORDS = set(SHAPES) | set(PLURALS.values())


@dataclass(frozen=True)
class WebSample:
    """One web image: its scene, its clean alt-text, the caption actually published and the noise kind."""

    key: str
    scene: Scene
    clean: WebCaption
    caption: str
    kind: str

    @property
    def noisy(self) -> bool:
        return self.kind != "clean"


def web_key(index: int) -> str:
    return f"web_{index:08d}"


def _swapped(i: int, scene: Scene, clean: list[WebCaption], rng: np.random.Generator) -> str | None:
    """Another image's clean caption that names something ``scene`` does not contain."""
    n = len(clean)
    for _ in range(50 if n > 1 else 0):
        j = (i + 1 + int(rng.integers(n - 1))) % n
        if any(not scene.has(c, s) for c, s in clean[j].mentioned()):
            return clean[j].text
    return None


def _wrong_attribute(scene: Scene, cap: WebCaption, rng: np.random.Generator) -> str:
    """``cap`` with one colour or shape word replaced so the named object is absent from ``scene``."""
    options = []
    for c_idx, s_idx, plural in cap.mentions:
        colour, shape = cap.words[c_idx], cap.words[s_idx][:-1] if plural else cap.words[s_idx]
        options += [(c_idx, c) for c in COLOURS if c != colour and not scene.has(c, shape)]
        options += [(s_idx, PLURALS[s] if plural else s) for s in SHAPES if s != shape and not scene.has(colour, s)]
    pos, word = options[int(rng.integers(len(options)))]
    words = list(cap.words)
    words[pos] = word
    return " ".join(words)


def _misnamed(scene: Scene, cap: WebCaption) -> str | None:
    """``cap`` with its colours renamed by :data:`COLOUR_CONFUSION`; None if the renamed text is still true."""
    words = list(cap.words)
    for c_idx, _, _ in cap.mentions:
        words[c_idx] = COLOUR_CONFUSION[cap.words[c_idx]]
    renamed = WebCaption(tuple(words), cap.mentions)
    return renamed.text if any(not scene.has(c, s) for c, s in renamed.mentioned()) else None


def _truncated(cap: WebCaption, rng: np.random.Generator) -> str:
    """A prefix of ``cap`` that stops before a phrase is complete (never right after a shape word)."""
    cuts = [k for k in range(1, len(cap.words)) if cap.words[k - 1] not in _SHAPE_WORDS]
    return " ".join(cap.words[: cuts[int(rng.integers(len(cuts)))]])


def web_samples(
    seed: int, n: int, noise: float, max_objects: int = 4, noise_kinds: tuple[str, ...] = NOISE_KINDS
) -> list[WebSample]:
    """The web pool's scenes and captions (no files written): the same for the same arguments."""
    unknown = sorted(set(noise_kinds) - set(ALL_NOISE_KINDS))
    if unknown or not noise_kinds:
        raise ValueError(f"noise_kinds must be some of {', '.join(ALL_NOISE_KINDS)}; got {list(noise_kinds)}")
    scenes = [random_scene(rng_for(seed, "web/scene", i), max_objects=max_objects) for i in range(n)]
    clean = [web_caption(s, rng_for(seed, "web/caption", i)) for i, s in enumerate(scenes)]
    order = rng_for(seed, "web/noise").permutation(n)
    n_noisy = int(round(noise * n))
    kind_of = {int(i): noise_kinds[k % len(noise_kinds)] for k, i in enumerate(order[:n_noisy])}
    out = []
    for i, scene in enumerate(scenes):
        rng = rng_for(seed, "web/noise", i)
        kind, caption = kind_of.get(i, "clean"), clean[i].text
        if kind == "misnamed":
            caption = _misnamed(scene, clean[i])
            if caption is None:  # every renamed object happens to be in the scene too
                kind = "wrong_attribute"
        if kind == "swapped":
            caption = _swapped(i, scene, clean, rng)
            if caption is None:  # a one-image pool has nothing to swap with
                kind = "generic"
        if kind == "generic":
            caption = GENERIC_ALT_TEXTS[int(rng.integers(len(GENERIC_ALT_TEXTS)))]
        elif kind == "wrong_attribute":
            caption = _wrong_attribute(scene, clean[i], rng)
        elif kind == "truncated":
            caption = _truncated(clean[i], rng)
        out.append(WebSample(web_key(i), scene, clean[i], caption, kind))
    return out


def _add(tar: tarfile.TarFile, name: str, blob: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(blob), 0, 0o644  # fixed metadata: byte-identical shards
    tar.addfile(info, io.BytesIO(blob))


def write_web(
    root: Path,
    seed: int,
    n: int,
    noise: float,
    image_size: int,
    shard_size: int,
    max_objects: int = 4,
    noise_kinds: tuple[str, ...] = NOISE_KINDS,
) -> dict[str, int]:
    """Write ``web/`` under ``root``: images, the json list, the noise labels and webdataset shards."""
    samples = web_samples(seed, n, noise, max_objects, noise_kinds)
    writer = ImageWriter(root / "web", image_size)
    web = root / "web"
    (web / "shards").mkdir(parents=True, exist_ok=True)
    entries, labels = [], {}
    tar: tarfile.TarFile | None = None
    for i, s in enumerate(samples):
        rel = f"images/{s.key}.jpg"
        data = writer.write(rel, s.scene, rng_for(seed, "web/pixels", i))
        entries.append({"image": rel, "caption": s.caption})
        labels[s.key] = {"noisy": s.noisy, "kind": s.kind}
        if i % shard_size == 0:
            if tar is not None:
                tar.close()
            tar = tarfile.open(web / "shards" / f"web-{i // shard_size:06d}.tar", "w", format=tarfile.USTAR_FORMAT)
        meta = json.dumps({"image": rel, "caption": s.caption}).encode()
        for ext, blob in (("jpg", data), ("txt", s.caption.encode()), ("json", meta)):
            _add(tar, f"{s.key}.{ext}", blob)
    if tar is not None:
        tar.close()
    dump_json(web / "annotations/web_train.json", entries)
    dump_json(web / "noise_labels.json", labels)
    return {"web_images": n, "web_noisy": sum(s.noisy for s in samples), "web_shards": -(-n // shard_size)}


__all__ = [
    "ALL_NOISE_KINDS",
    "COLOUR_CONFUSION",
    "GENERIC_ALT_TEXTS",
    "NOISE_KINDS",
    "WebSample",
    "web_key",
    "web_samples",
    "write_web",
]

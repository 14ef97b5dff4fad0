"""Web captions: the requested noise fraction and kinds, labels that tell the truth about each caption."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from vlkit.data.synthetic.caption_sets import coco_set
from vlkit.data.synthetic.scene import COLOURS, PLURALS, SHAPES
from vlkit.data.synthetic.web_noise import GENERIC_ALT_TEXTS, NOISE_KINDS, web_samples

SHAPE_WORDS = set(SHAPES) | set(PLURALS.values())


@pytest.fixture(scope="module")
def samples() -> list:
    return web_samples(seed=3, n=400, noise=0.4)


def test_noise_fraction_and_kinds_are_as_requested(samples: list) -> None:
    kinds = Counter(s.kind for s in samples)
    assert sum(s.noisy for s in samples) == 160
    assert {k: kinds[k] for k in NOISE_KINDS} == {k: 40 for k in NOISE_KINDS}
    for noise, expected in ((0.0, 0), (1.0, 50), (0.25, 12)):
        assert sum(s.noisy for s in web_samples(seed=0, n=50, noise=noise)) == expected


def test_clean_captions_name_objects_in_their_image(samples: list) -> None:
    for s in samples:
        assert all(s.scene.has(c, shape) for c, shape in s.clean.mentioned())
        if s.kind == "clean":
            assert s.caption == s.clean.text


def test_swapped_captions_are_another_images_caption_that_does_not_fit(samples: list) -> None:
    clean_texts = {s.clean.text: s for s in samples}
    swapped = [s for s in samples if s.kind == "swapped"]
    for s in swapped:
        donor = clean_texts[s.caption]  # KeyError if it is not some image's clean caption
        assert donor.key != s.key and s.caption != s.clean.text
        assert any(not s.scene.has(c, shape) for c, shape in donor.clean.mentioned())


def test_generic_wrong_attribute_and_truncated_captions(samples: list) -> None:
    for s in samples:
        words, clean = s.caption.split(), list(s.clean.words)
        if s.kind == "generic":
            assert s.caption in GENERIC_ALT_TEXTS
        elif s.kind == "wrong_attribute":
            changed = [i for i, (a, b) in enumerate(zip(words, clean, strict=True)) if a != b]
            assert len(changed) == 1 and words[changed[0]] in set(COLOURS) | SHAPE_WORDS
            assert words[changed[0]] not in SHAPE_WORDS or clean[changed[0]] in SHAPE_WORDS
            # the object the changed caption names is not in the image
            c_idx, s_idx, plural = next(m for m in s.clean.mentions if changed[0] in m[:2])
            shape = words[s_idx][:-1] if plural else words[s_idx]
            assert not s.scene.has(words[c_idx], shape)
        elif s.kind == "truncated":
            assert 0 < len(words) < len(clean) and words == clean[: len(words)] and words[-1] not in SHAPE_WORDS


def test_files_carry_the_samples_and_their_labels(tiny_world: Path) -> None:
    marker = json.loads((tiny_world / "WORLD.json").read_text())
    expected = web_samples(marker["seed"], marker["num_web_images"], marker["noise"])
    rows = json.loads((tiny_world / "web/annotations/web_train.json").read_text())
    labels = json.loads((tiny_world / "web/noise_labels.json").read_text())
    assert [r["caption"] for r in rows] == [s.caption for s in expected]
    assert labels == {s.key: {"noisy": s.noisy, "kind": s.kind} for s in expected}
    assert sum(v["noisy"] for v in labels.values()) == round(marker["noise"] * len(rows))


def test_web_alt_text_is_terser_than_human_captions(samples: list) -> None:
    web = [len(s.clean.words) for s in samples]
    human = [len(c.split()) for item in coco_set(0, 100) for c in item.captions]
    assert sum(web) / len(web) < 0.5 * sum(human) / len(human)
    assert max(web) <= 5

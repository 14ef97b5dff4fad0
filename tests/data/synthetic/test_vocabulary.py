"""Every word the world can write is a whole token of bert-base-uncased (no word-piece splitting)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import vlkit
from vlkit.data.synthetic.captions import clean_captions, web_caption
from vlkit.data.synthetic.nlvr import random_statement
from vlkit.data.synthetic.scene import random_scene, rng_for
from vlkit.data.synthetic.video import clip_captions, clip_questions, random_clip, video_answer_list
from vlkit.data.synthetic.visdial import ANSWERS, dialog
from vlkit.data.synthetic.vqa import answer_space, questions
from vlkit.data.synthetic.web_noise import GENERIC_ALT_TEXTS, web_samples


@pytest.fixture(scope="module")
def vocab() -> set[str]:
    path = Path(vlkit.__file__).parent / "models" / "assets" / "bert_base_uncased_vocab.txt"
    return set(path.read_text(encoding="utf-8").split("\n"))


def strings(obj: object) -> Iterator[str]:
    """Every string value inside a json document (keys and file paths excluded)."""
    if isinstance(obj, str):
        if not obj.endswith((".jpg", ".mp4")) and obj not in ("True", "False", "1.0"):
            yield obj
    elif isinstance(obj, list):
        for x in obj:
            yield from strings(x)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if k not in (
                "image",
                "images",
                "video",
                "image_id",
                "tasks",
                "kind",
                "type",
                "version",
                "split",
                "dataset",
            ):
                yield from strings(v)


def generated_texts() -> Iterator[str]:
    """Texts of every generator over many random scenes, pairs and clips."""
    yield from GENERIC_ALT_TEXTS
    yield from ANSWERS
    yield from answer_space() + video_answer_list()
    yield from (s.caption for s in web_samples(seed=5, n=300, noise=1.0))
    for i in range(800):
        rng = rng_for(11, "vocab", i)
        scene, other = random_scene(rng), random_scene(rng)
        yield from clean_captions(scene, rng)
        yield web_caption(scene, rng).text
        yield from (q.question for q in questions(scene, rng))
        yield random_statement(scene, other, rng)[0]
        yield from (q for q, _, _ in dialog(scene, rng))
        clip = random_clip(rng)
        yield from clip_captions(clip, rng)
        yield from (q for q, _ in clip_questions(clip, rng))


def out_of_vocabulary(texts: Iterator[str], vocab: set[str]) -> dict[str, str]:
    missing = {}
    for text in texts:
        assert text == text.lower() and text == " ".join(text.split()), text
        for token in re.findall(r"[a-z0-9]+|\S", text):
            if token not in vocab:
                missing[token] = text
    return missing


def test_generators_use_only_bert_vocabulary(vocab: set[str]) -> None:
    assert out_of_vocabulary(generated_texts(), vocab) == {}


def test_written_world_uses_only_bert_vocabulary(tiny_world: Path, vocab: set[str]) -> None:
    texts = [s for path in sorted(tiny_world.rglob("*.json")) for s in strings(json.loads(path.read_text()))]
    assert len(texts) > 1000
    assert out_of_vocabulary(iter(texts), vocab) == {}


def test_the_check_catches_unknown_words(vocab: set[str]) -> None:
    assert out_of_vocabulary(iter(["a screenshot of a hexagon"]), vocab) == {
        "screenshot": "a screenshot of a hexagon",
        "hexagon": "a screenshot of a hexagon",
    }

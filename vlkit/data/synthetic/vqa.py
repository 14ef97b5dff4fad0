"""VQAv2-style questions on the COCO images of the world (and Visual-Genome-style QA on its train split).

Question types: colour of an object, counts, existence (yes/no balanced), the shape or colour of the
object left of / right of / above / below another, where an object is, its size, the background pattern.
Ten annotator answers per question agree on the truth most of the time; the rest are plausible confusions
(a neighbouring count or region, a similar colour), as in VQAv2.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vlkit.data.synthetic.caption_sets import CaptionedImage, write_images
from vlkit.data.synthetic.files import dump_json
from vlkit.data.synthetic.scene import (
    BACKGROUNDS,
    COLOURS,
    PLURALS,
    REGIONS,
    SHAPES,
    SIZES,
    Obj,
    Scene,
    article,
    pick,
    rng_for,
    unique_reference,
)

NUMBERS = tuple(str(k) for k in range(5))
_SIMILAR_COLOURS = {"red": "orange", "orange": "yellow", "yellow": "orange", "purple": "blue", "blue": "purple"}


@dataclass(frozen=True)
class QA:
    question: str
    answer: str
    question_type: str  # VQAv2's question-type prefix ("what color is the", "how many", ...)
    answer_type: str  # "yes/no", "number" or "other"


def answer_space() -> list[str]:
    """Every answer a question of the world can have: the candidate list for rank-based VQA inference."""
    return ["yes", "no", *NUMBERS, *COLOURS, *SHAPES, *REGIONS.values(), *SIZES, *BACKGROUNDS]


def _referable(scene: Scene, with_size: bool = True) -> list[tuple[Obj, str]]:
    """Objects with a phrase naming them alone (without a size word when ``with_size`` is False)."""
    out = []
    for o in scene.objects:
        ref = unique_reference(scene, o)
        if ref is not None and (with_size or o.size not in ref.split()):
            out.append((o, ref))
    return out


def _count(scene: Scene, rng: np.random.Generator) -> QA | None:
    kind = int(rng.integers(3))
    if kind == 0:
        return QA("how many shapes are there", str(len(scene.objects)), "how many", "number")
    if kind == 1:
        shape = pick(rng, [o.shape for o in scene.objects]) if rng.random() < 0.75 else pick(rng, SHAPES)
        return QA(f"how many {PLURALS[shape]} are there", str(scene.count(shape=shape)), "how many", "number")
    colour = pick(rng, [o.colour for o in scene.objects]) if rng.random() < 0.75 else pick(rng, COLOURS)
    return QA(f"how many {colour} shapes are there", str(scene.count(colour=colour)), "how many", "number")


def _colour(scene: Scene, rng: np.random.Generator) -> QA | None:
    refs = [(o, r) for o, r in _referable(scene) if o.colour not in r.split()]
    if not refs:
        return None
    o, ref = refs[int(rng.integers(len(refs)))]
    return QA(f"what {pick(rng, ('color', 'colour'))} is the {ref}", o.colour, "what color is the", "other")


def _exists(scene: Scene, rng: np.random.Generator) -> QA:
    want = rng.random() < 0.5  # half yes, half no over the dataset
    kind = int(rng.integers(3))
    for _ in range(30):
        colour, shape = pick(rng, COLOURS), pick(rng, SHAPES)
        if want:
            o = scene.objects[int(rng.integers(len(scene.objects)))]
            colour, shape = o.colour, o.shape
        if kind == 0 and scene.has(colour, shape) == want:
            return QA(f"is there {article(colour)} {colour} {shape}", "yes" if want else "no", "is there a", "yes/no")
        if kind == 1 and scene.has(shape=shape) == want:
            return QA(f"is there {article(shape)} {shape}", "yes" if want else "no", "is there a", "yes/no")
        if kind == 2 and scene.has(colour=colour) == want:
            return QA(f"are there any {colour} shapes", "yes" if want else "no", "are there any", "yes/no")
    n = len(scene.objects)
    return QA("are there more than two shapes", "yes" if n > 2 else "no", "are there", "yes/no")


_RELATIONS: dict[str, Callable[[Scene, Obj], list[Obj]]] = {
    "to the left of": Scene.left_of,
    "to the right of": Scene.right_of,
    "above": Scene.above,
    "below": Scene.below,
}


def _relation(scene: Scene, rng: np.random.Generator) -> QA | None:
    options = []
    for o, ref in _referable(scene):
        for words, fn in _RELATIONS.items():
            related = fn(scene, o)
            if len(related) == 1:
                options.append((ref, words, related[0]))
    if not options:
        return None
    ref, words, target = options[int(rng.integers(len(options)))]
    if rng.random() < 0.6:
        return QA(f"what shape is {words} the {ref}", target.shape, "what shape is", "other")
    return QA(f"what color is the shape {words} the {ref}", target.colour, "what color is the", "other")


def _where(scene: Scene, rng: np.random.Generator) -> QA | None:
    refs = _referable(scene)
    if not refs:
        return None
    o, ref = refs[int(rng.integers(len(refs)))]
    return QA(f"where is the {ref}", o.region, "where is the", "other")


def _size(scene: Scene, rng: np.random.Generator) -> QA | None:
    refs = _referable(scene, with_size=False)
    if not refs:
        return None
    o, ref = refs[int(rng.integers(len(refs)))]
    if rng.random() < 0.5:
        return QA(f"what size is the {ref}", o.size, "what size is", "other")
    asked = pick(rng, ("small", "large"))
    return QA(f"is the {ref} {asked}", "yes" if o.size == asked else "no", "is the", "yes/no")


def _background(scene: Scene, rng: np.random.Generator) -> QA:
    return QA("what pattern does the background have", scene.background, "what", "other")


QUESTION_KINDS: tuple[Callable[[Scene, np.random.Generator], QA | None], ...] = (
    _count,
    _colour,
    _exists,
    _relation,
    _where,
    _size,
    _count,
    _exists,
    _relation,
    _background,
)


def questions(scene: Scene, rng: np.random.Generator, n: int = 5) -> list[QA]:
    """Up to ``n`` distinct questions about ``scene``, of mixed kinds."""
    out: list[QA] = []
    for k in rng.permutation(len(QUESTION_KINDS)):
        qa = QUESTION_KINDS[int(k)](scene, rng)
        if qa is not None and all(qa.question != x.question for x in out):
            out.append(qa)
        if len(out) == n:
            break
    return out


def _confusion(qa: QA, rng: np.random.Generator) -> str:
    """A plausible wrong answer an annotator could give."""
    a = qa.answer
    if a in ("yes", "no"):
        return "no" if a == "yes" else "yes"
    if a in NUMBERS:
        return pick(rng, [str(x) for x in (int(a) - 1, int(a) + 1) if str(x) in NUMBERS])
    if a in COLOURS:
        similar = _SIMILAR_COLOURS.get(a)
        return similar if similar and rng.random() < 0.7 else pick(rng, [c for c in COLOURS if c != a])
    for group in (SHAPES, tuple(REGIONS.values()), SIZES, BACKGROUNDS):
        if a in group:
            return pick(rng, [x for x in group if x != a])
    return a


def annotator_answers(qa: QA, rng: np.random.Generator) -> list[str]:
    """Ten answers: the truth from most annotators (at least 7), plausible confusions from the others."""
    wrong = int(rng.choice([0, 0, 0, 1, 1, 2, 3]))
    answers = [qa.answer] * (10 - wrong) + [_confusion(qa, rng) for _ in range(wrong)]
    return [answers[int(i)] for i in rng.permutation(10)]


def write_vqa(root: Path, seed: int, items: list[CaptionedImage], image_size: int) -> dict[str, int]:
    """``vqa/`` (BLIP json, answer list, official val questions/annotations) on the COCO images ``items``."""
    vqa = root / "vqa"
    write_images(vqa / "images", items, seed, image_size, source=root / "coco" / "images")
    rows: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    official_q, official_a = [], []
    for it in items:
        rng = rng_for(seed, "vqa", it.index)
        for k, qa in enumerate(questions(it.scene, rng)):
            qid = it.image_id * 100 + k
            answers = annotator_answers(qa, rng)
            rows[it.split].append(
                {"question_id": qid, "question": qa.question, "answer": answers, "image": it.rel, "dataset": "vqa"}
            )
            if it.split == "val":
                official_q.append({"image_id": it.image_id, "question": qa.question, "question_id": qid})
                official_a.append(
                    {
                        "question_id": qid,
                        "image_id": it.image_id,
                        "question_type": qa.question_type,
                        "answer_type": qa.answer_type,
                        "multiple_choice_answer": Counter(answers).most_common(1)[0][0],
                        "answers": [
                            {"answer": a, "answer_confidence": "yes", "answer_id": j + 1} for j, a in enumerate(answers)
                        ],
                    }
                )
    for split, part in rows.items():
        dump_json(vqa / "annotations" / f"vqa_{split}.json", part)
    dump_json(vqa / "annotations" / "answer_list.json", answer_space())
    dump_json(vqa / "annotations" / "v2_OpenEnded_mscoco_val2014_questions.json", {"questions": official_q})
    dump_json(vqa / "annotations" / "v2_mscoco_val2014_annotations.json", {"annotations": official_a})
    return {f"{split}_questions": len(part) for split, part in rows.items()}


def write_vg(root: Path, seed: int, items: list[CaptionedImage], image_size: int) -> dict[str, int]:
    """``vg/``: extra single-answer QA on the COCO train images (BLIP adds VG QA to VQA training)."""
    train = [it for it in items if it.split == "train"]
    write_images(root / "vg" / "images", train, seed, image_size, source=root / "coco" / "images")
    rows = []
    for it in train:
        for k, qa in enumerate(questions(it.scene, rng_for(seed, "vg", it.index), n=2)):
            rows.append(
                {
                    "question_id": 10**9 + it.image_id * 10 + k,
                    "question": qa.question,
                    "answer": [qa.answer],
                    "image": it.rel,
                    "dataset": "vg",
                }
            )
    dump_json(root / "vg" / "annotations" / "vg_qa.json", rows)
    return {"questions": len(rows)}


__all__ = ["QA", "QUESTION_KINDS", "annotator_answers", "answer_space", "questions", "write_vg", "write_vqa"]

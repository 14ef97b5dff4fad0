"""VisDial v1.0-style dialogs: a caption and ten question-answer rounds per image, 100 answer options each.

Answers are conversational paraphrases of a value ("red", "it is red", "it looks red"); a round's options
hold the true answer, other answers of the same kind (hard negatives) and random ones. Dense relevance
(val) scores the true answer 1, its paraphrases 0.5 and everything else 0, like VisDial's NDCG labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vlkit.data.synthetic.captions import REGION_PHRASES, clean_captions
from vlkit.data.synthetic.files import dump_json
from vlkit.data.synthetic.render import ImageWriter
from vlkit.data.synthetic.scene import (
    BACKGROUNDS,
    COLOURS,
    PLURALS,
    REGIONS,
    SHAPES,
    SIZES,
    Scene,
    article,
    pick,
    random_scene,
    rng_for,
    unique_reference,
)

NUM_ROUNDS, NUM_OPTIONS = 10, 100


def _forms(kind: str, value: str) -> tuple[str, ...]:
    """The paraphrases an answerer might give for ``value``."""
    if kind == "yesno":
        if value == "yes":
            return ("yes", "yep", "i think so", "yes i think so")
        return ("no", "nope", "i do not think so", "no i do not think so")
    if kind == "colour":
        return (value, f"it is {value}", f"it looks {value}", f"{value} i think")
    if kind == "count":
        return (value, f"i see {value}", f"i count {value}", f"{value} in total")
    if kind == "shape":
        return (
            value,
            f"{article(value)} {value}",
            f"it is {article(value)} {value}",
            f"looks like {article(value)} {value}",
        )
    if kind == "where":
        return (value, REGION_PHRASES[value], f"it is {REGION_PHRASES[value]}")
    return (value, f"it is {value}", f"it looks {value}")  # size, background


_VALUES = {
    "yesno": ("yes", "no"),
    "colour": tuple(COLOURS),
    "count": tuple(str(k) for k in range(5)),
    "shape": SHAPES,
    "where": tuple(REGIONS.values()),
    "size": SIZES,
    "background": BACKGROUNDS,
}
# answer text -> (kind, value): every answer the world's dialogs can give, in a fixed order.
ANSWERS: dict[str, tuple[str, str]] = {
    form: (kind, value) for kind, values in _VALUES.items() for value in values for form in _forms(kind, value)
}


def _candidate_questions(scene: Scene, rng: np.random.Generator) -> list[tuple[str, str, str]]:
    """(question, answer kind, answer value) triples that ``scene`` determines."""

    def yes_no(truth: bool) -> str:
        return "yes" if truth else "no"

    guess = pick(rng, BACKGROUNDS)
    out = [
        ("how many shapes are there", "count", str(len(scene.objects))),
        ("what does the background look like", "background", scene.background),
        (f"is the background {guess}", "yesno", yes_no(guess == scene.background)),
    ]
    for o in scene.objects:
        ref = unique_reference(scene, o)
        if ref is None:
            continue
        out.append((f"where is the {ref}", "where", o.region))
        if o.colour not in ref.split():
            out.append((f"what color is the {ref}", "colour", o.colour))
        if o.size not in ref.split():
            asked = pick(rng, ("small", "large"))
            out.append((f"is the {ref} {asked}", "yesno", yes_no(o.size == asked)))
            out.append((f"what size is the {ref}", "size", o.size))
        if scene.count(colour=o.colour) == 1:
            out.append((f"what shape is the {o.colour} one", "shape", o.shape))
    shape = pick(rng, SHAPES)
    out.append((f"how many {PLURALS[shape]} are there", "count", str(scene.count(shape=shape))))
    return out


def dialog(scene: Scene, rng: np.random.Generator) -> list[tuple[str, str, str]]:
    """``NUM_ROUNDS`` distinct (question, kind, value) rounds about ``scene``."""
    cands = _candidate_questions(scene, rng)
    rounds = [cands[int(i)] for i in rng.permutation(len(cands))[:NUM_ROUNDS]]
    asked = {q for q, _, _ in rounds}
    while len(rounds) < NUM_ROUNDS:  # top up with existence questions (mostly "no")
        colour, shape = pick(rng, COLOURS), pick(rng, SHAPES)
        q = f"is there {article(colour)} {colour} {shape}"
        if q not in asked:
            asked.add(q)
            rounds.append((q, "yesno", "yes" if scene.has(colour, shape) else "no"))
    return rounds


def answer_options(gt: str, rng: np.random.Generator) -> tuple[list[str], int]:
    """``NUM_OPTIONS`` answers containing ``gt`` once, and its index."""
    kind = ANSWERS[gt][0]
    same = [a for a, (k, _) in ANSWERS.items() if k == kind and a != gt]
    rest = [a for a, (k, _) in ANSWERS.items() if k != kind]
    hard = [same[int(i)] for i in rng.permutation(len(same))[: len(same) // 2 + 1]]
    easy = [rest[int(i)] for i in rng.permutation(len(rest))[: NUM_OPTIONS - 1 - len(hard)]]
    options = hard + easy
    options = [options[int(i)] for i in rng.permutation(len(options))]
    gt_index = int(rng.integers(NUM_OPTIONS))
    options.insert(gt_index, gt)
    return options, gt_index


def relevance(gt: str, options: list[str]) -> list[float]:
    """Dense relevance of each option: 1 for the true answer, 0.5 for its paraphrases, else 0."""
    return [1.0 if a == gt else 0.5 if ANSWERS[a] == ANSWERS[gt] else 0.0 for a in options]


def write_visdial(root: Path, seed: int, sizes: dict[str, int], image_size: int) -> dict[str, int]:
    """``visdial/``: images, ``visdial_1.0_{train,val}.json`` and the val dense annotations."""
    writer = ImageWriter(root / "visdial" / "images", image_size)
    answers = list(ANSWERS)
    aidx = {a: i for i, a in enumerate(answers)}
    counts = {}
    for split, n in sizes.items():
        questions: dict[str, int] = {}
        dialogs, dense = [], []
        for i in range(n):
            image_id = i + 1
            rng = rng_for(seed, "visdial", split, i)
            scene = random_scene(rng)
            writer.write(
                f"{split}/VisualDialog_{split}_{image_id:012d}.jpg", scene, rng_for(seed, "visdial/pixels", split, i)
            )
            turns = []
            for q, kind, value in dialog(scene, rng):
                gt = pick(rng, _forms(kind, value))
                options, gt_index = answer_options(gt, rng)
                qi = questions.setdefault(q, len(questions))
                turns.append(
                    {
                        "question": qi,
                        "answer": aidx[gt],
                        "answer_options": [aidx[a] for a in options],
                        "gt_index": gt_index,
                    }
                )
            caption = clean_captions(scene, rng, 1)[0]
            dialogs.append({"image_id": image_id, "caption": caption, "dialog": turns})
            if split == "val":  # VisDial scores one round per image densely
                r = int(rng.integers(NUM_ROUNDS))
                options = [answers[a] for a in turns[r]["answer_options"]]
                dense.append(
                    {
                        "image_id": image_id,
                        "round_id": r + 1,
                        "gt_relevance": relevance(answers[turns[r]["answer"]], options),
                    }
                )
        data = {"questions": list(questions), "answers": answers, "dialogs": dialogs}
        dump_json(
            root / "visdial" / "annotations" / f"visdial_1.0_{split}.json",
            {"version": "1.0", "split": split, "data": data},
        )
        if split == "val":
            dump_json(root / "visdial" / "annotations" / "visdial_1.0_val_dense_annotations.json", dense)
        counts[f"{split}_dialogs"] = n
    return counts


__all__ = ["ANSWERS", "NUM_OPTIONS", "NUM_ROUNDS", "answer_options", "dialog", "relevance", "write_visdial"]

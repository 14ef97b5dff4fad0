"""The world's texts are true of its images: captions, VQA answers, NLVR2 labels, VisDial ground truth."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from vlkit.data.synthetic.caption_sets import coco_set, flickr_set, nocaps_set
from vlkit.data.synthetic.nlvr import nlvr_example
from vlkit.data.synthetic.scene import HELD_OUT, NUMBER_WORDS, REGIONS, Obj, Scene, random_scene, rng_for
from vlkit.data.synthetic.visdial import ANSWERS

SIZE_WORDS = {"small": "small", "little": "small", "tiny": "small", "large": "large", "big": "large"}
OBJ = r"an? (?:(small|little|tiny|large|big) )?(\w+) (\w+)"


def matches(o: Obj, size: str | None, colour: str, shape: str) -> bool:
    return o.colour == colour and o.shape == shape and (size is None or o.size == SIZE_WORDS[size])


def caption_is_true(caption: str, scene: Scene) -> bool | None:
    """Truth of a relation, count or sized-object caption, checked from the scene (None: not checked here)."""
    rel = re.fullmatch(rf"{OBJ} (to the left of|to the right of|is left of|above|below|under) {OBJ}", caption)
    if rel:
        s1, c1, sh1, words, s2, c2, sh2 = rel.groups()
        test = {
            "to the left of": lambda x, y: x.col < y.col,
            "is left of": lambda x, y: x.col < y.col,
            "to the right of": lambda x, y: x.col > y.col,
            "above": lambda x, y: x.row < y.row,
            "below": lambda x, y: x.row > y.row,
            "under": lambda x, y: x.row > y.row,
        }[words]
        return any(
            matches(x, s1, c1, sh1) and matches(y, s2, c2, sh2) and test(x, y)
            for x in scene.objects
            for y in scene.objects
        )
    total = re.match(r"(a single|two|three|four) (shape|object)s? ", caption)
    if total:
        return len(scene.objects) == (1 if total.group(1) == "a single" else NUMBER_WORDS.index(total.group(1)))
    group = re.search(r"\b(two|three|four) (\w+) (\w+)s\b", caption)
    if group:
        return scene.count(group.group(2), group.group(3)) == NUMBER_WORDS.index(group.group(1))
    return None


def test_captions_are_true_and_varied() -> None:
    items = coco_set(0, 300)
    verdicts = Counter(caption_is_true(c, it.scene) for it in items for c in it.captions)
    assert verdicts[False] == 0 and verdicts[True] > 400, verdicts
    assert sum(len(set(it.captions)) == 5 for it in items) >= 0.95 * len(items)
    assert len({c for it in items for c in it.captions}) > 0.9 * 5 * len(items)
    assert caption_is_true("a red circle to the left of a blue square", coco_set(0, 1)[0].scene) is not None


def test_held_out_objects_appear_only_in_nocaps() -> None:
    for item in coco_set(0, 300) + flickr_set(0, 100):
        assert not {(o.colour, o.shape) for o in item.scene.objects} & HELD_OUT
    for item in nocaps_set(0, 30):
        assert {(o.colour, o.shape) for o in item.scene.objects} & HELD_OUT


def vqa_truth(question: str, scene: Scene) -> str | None:
    """The answer to the question kinds parsed here, from the scene."""
    if question == "how many shapes are there":
        return str(len(scene.objects))
    if m := re.fullmatch(r"how many (\w+) shapes are there", question):
        return str(sum(o.colour == m.group(1) for o in scene.objects))
    if m := re.fullmatch(r"how many (\w+)s are there", question):
        return str(sum(o.shape == m.group(1) for o in scene.objects))
    if m := re.fullmatch(r"is there an? (\w+) (\w+)", question):
        return "yes" if any(o.colour == m.group(1) and o.shape == m.group(2) for o in scene.objects) else "no"
    if m := re.fullmatch(r"what colou?r is the (\w+)", question):
        (obj,) = [o for o in scene.objects if o.shape == m.group(1)]  # asked only when there is one
        return obj.colour
    if m := re.fullmatch(r"where is the (\w+) (\w+)", question):
        found = [o for o in scene.objects if o.colour == m.group(1) and o.shape == m.group(2)]
        return REGIONS[(found[0].row, found[0].col)] if len(found) == 1 else None
    if question == "what pattern does the background have":
        return scene.background
    return None


def test_vqa_majority_answers_are_true(tiny_world: Path) -> None:
    marker = json.loads((tiny_world / "WORLD.json").read_text())
    scenes = {it.rel: it.scene for it in coco_set(marker["seed"], marker["num_images"])}
    checked = 0
    for split in ("train", "val", "test"):
        for row in json.loads((tiny_world / f"vqa/annotations/vqa_{split}.json").read_text()):
            majority, votes = Counter(row["answer"]).most_common(1)[0]
            assert votes >= 7
            truth = vqa_truth(row["question"], scenes[row["image"]])
            if truth is not None:
                assert majority == truth, row
                checked += 1
    assert checked > 80


def test_vqa_yes_no_answers_are_balanced(tiny_world: Path) -> None:
    rows = json.loads((tiny_world / "vqa/annotations/vqa_train.json").read_text())
    yes_no = Counter(Counter(r["answer"]).most_common(1)[0][0] for r in rows if r["question"].startswith("is "))
    assert 0.35 < yes_no["yes"] / (yes_no["yes"] + yes_no["no"]) < 0.65


def nlvr_truth(sentence: str, a: Scene, b: Scene) -> bool:
    """The truth of each NLVR2 statement template, evaluated independently of the generator."""

    def has(scene: Scene, colour: str | None, shape: str | None) -> bool:
        return any(
            (colour is None or o.colour == colour) and (shape is None or o.shape == shape) for o in scene.objects
        )

    if m := re.fullmatch(r"at least one image contains an? (\w+) (\w+)", sentence):
        return has(a, *m.groups()) or has(b, *m.groups())
    if m := re.fullmatch(r"both images contain an? (\w+) shape", sentence):
        return has(a, m.group(1), None) and has(b, m.group(1), None)
    if m := re.fullmatch(r"both images contain an? (\w+)", sentence):
        return has(a, None, m.group(1)) and has(b, None, m.group(1))
    if m := re.fullmatch(r"exactly one image contains an? (\w+)", sentence):
        return has(a, None, m.group(1)) != has(b, None, m.group(1))
    if m := re.fullmatch(r"the left image contains (more|fewer) shapes than the right image", sentence):
        return (len(a.objects) > len(b.objects)) if m.group(1) == "more" else (len(a.objects) < len(b.objects))
    if m := re.fullmatch(r"the (left|right) image contains exactly (\w+) shapes?", sentence):
        return len((a if m.group(1) == "left" else b).objects) == NUMBER_WORDS.index(m.group(2))
    if m := re.fullmatch(r"there are (\w+) shapes in total", sentence):
        return len(a.objects) + len(b.objects) == NUMBER_WORDS.index(m.group(1))
    m = re.fullmatch(r"in the (left|right) image an? (\w+) (\w+) is (to the left of|above) an? (\w+) (\w+)", sentence)
    assert m, sentence
    side, c1, s1, rel, c2, s2 = m.groups()
    scene = a if side == "left" else b
    return any(
        x.colour == c1
        and x.shape == s1
        and y.colour == c2
        and y.shape == s2
        and (x.col < y.col if rel == "to the left of" else x.row < y.row)
        for x in scene.objects
        for y in scene.objects
    )


def test_nlvr_labels_are_balanced_and_true(tiny_world: Path) -> None:
    seed = json.loads((tiny_world / "WORLD.json").read_text())["seed"]
    for split in ("train", "dev", "test"):
        rows = json.loads((tiny_world / f"nlvr2/annotations/nlvr_{split}.json").read_text())
        labels = Counter(r["label"] for r in rows)
        assert abs(labels["True"] - labels["False"]) <= 1 and len(rows) >= 10
        for i, row in enumerate(rows):
            a, b, sentence = nlvr_example(seed, split, i, row["label"] == "True")
            assert sentence == row["sentence"]
            assert nlvr_truth(sentence, a, b) == (row["label"] == "True"), sentence


def test_visdial_ground_truth_and_relevance(tiny_world: Path) -> None:
    seed = json.loads((tiny_world / "WORLD.json").read_text())["seed"]
    dense = json.loads((tiny_world / "visdial/annotations/visdial_1.0_val_dense_annotations.json").read_text())
    dense_by = {(d["image_id"], d["round_id"]): d["gt_relevance"] for d in dense}
    for split in ("train", "val"):
        data = json.loads((tiny_world / f"visdial/annotations/visdial_1.0_{split}.json").read_text())["data"]
        for i, d in enumerate(data["dialogs"]):
            questions = [data["questions"][t["question"]] for t in d["dialog"]]
            assert len(set(questions)) == 10
            scene = random_scene(rng_for(seed, "visdial", split, i))
            for r, turn in enumerate(d["dialog"]):
                assert turn["answer_options"][turn["gt_index"]] == turn["answer"]
                assert len(set(turn["answer_options"])) == 100
                answer = data["answers"][turn["answer"]]
                if questions[r] == "how many shapes are there":
                    assert ANSWERS[answer] == ("count", str(len(scene.objects)))
                if split == "val" and (d["image_id"], r + 1) in dense_by:
                    relevance = dense_by[(d["image_id"], r + 1)]
                    assert relevance[turn["gt_index"]] == 1.0 and relevance.count(1.0) == 1
    assert len(dense) == len(
        json.loads((tiny_world / "visdial/annotations/visdial_1.0_val.json").read_text())["data"]["dialogs"]
    )

"""Every file of docs/data_formats.md exists in a generated world and has exactly the documented shape."""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vlkit.data.synthetic.world import FORMAT_VERSION, PARTS

NOISE_KINDS = {"clean", "swapped", "generic", "wrong_attribute", "truncated"}


def text(v: Any) -> bool:
    return isinstance(v, str) and v.strip() != "" and v == v.strip()


def integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def strings(n: int | None = None) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and bool(v) and all(map(text, v)) and (n is None or len(v) == n)


def conforms(value: Any, schema: Any, where: str) -> None:
    """Assert ``value`` matches ``schema``: a dict (exact keys), ``[item schema]`` (non-empty list), a literal
    string, or a predicate."""
    if isinstance(schema, dict):
        assert isinstance(value, dict) and set(value) == set(schema), (where, value)
        for key, sub in schema.items():
            conforms(value[key], sub, f"{where}.{key}")
    elif isinstance(schema, list):
        assert isinstance(value, list) and value, (where, value)
        for i, item in enumerate(value):
            conforms(item, schema[0], f"{where}[{i}]")
    elif isinstance(schema, str):
        assert value == schema, (where, value)
    else:
        assert schema(value), (where, value)


def load(path: Path) -> Any:
    assert path.is_file(), f"missing {path}"
    return json.loads(path.read_text(encoding="utf-8"))


def decodable(path: Path, size: int) -> None:
    import cv2

    img = cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (size, size, 3), path


def world_arg(world: Path, name: str) -> Any:
    """An argument the world was generated with (the tiny_world fixture belongs to tests/data/conftest.py)."""
    return load(world / "WORLD.json")[name]


def test_world_marker(tiny_world: Path) -> None:
    marker = load(tiny_world / "WORLD.json")
    assert marker["format_version"] == FORMAT_VERSION and marker["tasks"] == list(PARTS)
    assert set(marker["counts"]) == set(PARTS)
    coco = marker["counts"]["coco"]
    assert sum(coco.values()) == marker["num_images"] and coco["train_images"] == int(0.7 * marker["num_images"])


@pytest.mark.parametrize("ds,prefix", [("coco", "coco_karpathy"), ("flickr30k", "flickr30k")])
def test_karpathy_caption_files(tiny_world: Path, ds: str, prefix: str) -> None:
    root = tiny_world / ds
    train = load(root / "annotations" / f"{prefix}_train.json")
    conforms(train, [{"image": lambda v: v.startswith("train/"), "caption": text, "image_id": text}], "train")
    for split in ("val", "test"):
        rows = load(root / "annotations" / f"{prefix}_{split}.json")
        conforms(
            rows, [{"image": lambda v, s=split: v.startswith(f"{s}/"), "caption": strings(5), "image_id": text}], split
        )
        if ds == "coco":
            gt = load(root / "annotations" / f"{prefix}_{split}_gt.json")
            schema = {
                "images": [{"id": integer}],
                "annotations": [{"image_id": integer, "caption": text, "id": integer}],
                "info": lambda v: v == {},
                "licenses": lambda v: v == [],
                "type": "captions",
            }
            conforms(gt, schema, f"{split}_gt")
            # The int id is the numeric part of the file name, and the string image_id of the entry.
            ids = {int(re.findall(r"\d+", Path(r["image"]).stem)[-1]) for r in rows}
            assert ids == {im["id"] for im in gt["images"]} == {int(r["image_id"]) for r in rows}
            assert len({a["id"] for a in gt["annotations"]}) == len(gt["annotations"]) == 5 * len(rows)
        train += [{"image": r["image"], "caption": c, "image_id": r["image_id"]} for r in rows for c in r["caption"]]
    per_image: dict[str, set[str]] = {}
    for r in train:
        per_image.setdefault(r["image"], set()).add(r["image_id"])
    assert all(len(ids) == 1 for ids in per_image.values())  # one id per image, shared by its captions
    for image in per_image:
        decodable(root / "images" / image, world_arg(tiny_world, "image_size"))


def test_nocaps_files(tiny_world: Path) -> None:
    root = tiny_world / "nocaps"
    for split in ("val", "test"):
        rows = load(root / "annotations" / f"nocaps_{split}.json")
        conforms(rows, [{"image": text, "img_id": integer, "caption": strings()}], split)
        gt = load(root / "annotations" / f"nocaps_{split}_gt.json")
        assert {im["id"] for im in gt["images"]} == {r["img_id"] for r in rows}
        for r in rows:
            decodable(root / "images" / r["image"], world_arg(tiny_world, "image_size"))


def test_web_json_shards_and_labels(tiny_world: Path) -> None:
    root = tiny_world / "web"
    rows = load(root / "annotations" / "web_train.json")
    conforms(rows, [{"image": lambda v: v.startswith("images/") and v.endswith(".jpg"), "caption": text}], "web")
    labels = load(root / "noise_labels.json")
    stems = [Path(r["image"]).stem for r in rows]
    assert list(labels) == stems
    conforms(list(labels.values()), [{"noisy": lambda v: isinstance(v, bool), "kind": lambda v: v in NOISE_KINDS}], "l")
    assert all(v["noisy"] == (v["kind"] != "clean") for v in labels.values())
    shards = sorted((root / "shards").glob("web-*.tar"))
    assert [s.name for s in shards] == [f"web-{i:06d}.tar" for i in range(len(shards))] and len(shards) == -(
        -world_arg(tiny_world, "num_web_images") // world_arg(tiny_world, "shard_size")
    )
    samples: dict[str, dict[str, bytes]] = {}
    for shard in shards:
        with tarfile.open(shard) as tar:
            for member in tar.getmembers():
                key, ext = member.name.split(".", 1)
                samples.setdefault(key, {})[ext] = tar.extractfile(member).read()
    assert list(samples) == stems
    for row, (key, sample) in zip(rows, samples.items(), strict=True):
        assert set(sample) == {"jpg", "txt", "json"}
        assert sample["txt"].decode() == row["caption"] and json.loads(sample["json"]) == row
        assert sample["jpg"] == (root / row["image"]).read_bytes() and Path(row["image"]).stem == key
    decodable(root / rows[0]["image"], world_arg(tiny_world, "image_size"))


def test_vqa_and_vg_files(tiny_world: Path) -> None:
    ann = tiny_world / "vqa" / "annotations"
    answer_list = load(ann / "answer_list.json")
    conforms(answer_list, [text], "answer_list")
    qids = []
    for split in ("train", "val", "test"):
        rows = load(ann / f"vqa_{split}.json")
        schema = {"question_id": integer, "question": text, "answer": strings(10), "image": text, "dataset": "vqa"}
        conforms(rows, [schema], split)
        qids += [r["question_id"] for r in rows]
        assert all((tiny_world / "vqa" / "images" / r["image"]).is_file() for r in rows)
        assert all(set(r["answer"]) <= set(answer_list) for r in rows)
    assert len(set(qids)) == len(qids)
    questions = load(ann / "v2_OpenEnded_mscoco_val2014_questions.json")
    conforms(questions, {"questions": [{"image_id": integer, "question": text, "question_id": integer}]}, "q")
    annotations = load(ann / "v2_mscoco_val2014_annotations.json")
    answer = {"answer": text, "answer_confidence": "yes", "answer_id": integer}
    schema = {
        "question_id": integer,
        "image_id": integer,
        "question_type": text,
        "answer_type": lambda v: v in ("yes/no", "number", "other"),
        "multiple_choice_answer": text,
        "answers": lambda v: len(v) == 10 and [a["answer_id"] for a in v] == list(range(1, 11)),
    }
    conforms(annotations, {"annotations": [schema]}, "a")
    for a in annotations["annotations"]:
        conforms(a["answers"], [answer], "answers")
    val = {r["question_id"]: r for r in load(ann / "vqa_val.json")}
    assert [q["question_id"] for q in questions["questions"]] == list(val)
    assert all(
        [x["answer"] for x in a["answers"]] == val[a["question_id"]]["answer"] for a in annotations["annotations"]
    )
    vg = load(tiny_world / "vg" / "annotations" / "vg_qa.json")
    conforms(
        vg, [{"question_id": integer, "question": text, "answer": strings(1), "image": text, "dataset": "vg"}], "vg"
    )
    assert all((tiny_world / "vg" / "images" / r["image"]).is_file() for r in vg)
    assert not set(qids) & {r["question_id"] for r in vg}


def test_nlvr_files(tiny_world: Path) -> None:
    for split in ("train", "dev", "test"):
        rows = load(tiny_world / "nlvr2" / "annotations" / f"nlvr_{split}.json")
        conforms(rows, [{"images": strings(2), "sentence": text, "label": lambda v: v in ("True", "False")}], split)
        for r in rows[:3]:
            for rel in r["images"]:
                decodable(tiny_world / "nlvr2" / "images" / rel, world_arg(tiny_world, "image_size"))


def index_into(n: int) -> Callable[[Any], bool]:
    return lambda v: integer(v) and 0 <= v < n


def visdial_turn(n_questions: int, n_answers: int) -> dict:
    return {
        "question": index_into(n_questions),
        "answer": index_into(n_answers),
        "answer_options": lambda v: len(v) == 100 and all(map(index_into(n_answers), v)),
        "gt_index": index_into(100),
    }


def test_visdial_files(tiny_world: Path) -> None:
    ann = tiny_world / "visdial" / "annotations"
    for split in ("train", "val"):
        raw = load(ann / f"visdial_1.0_{split}.json")
        data = raw["data"]
        turn = visdial_turn(len(data["questions"]), len(data["answers"]))
        dialog = {"image_id": integer, "caption": text, "dialog": lambda v: len(v) == 10}
        schema = {
            "version": "1.0",
            "split": split,
            "data": {"questions": [text], "answers": [text], "dialogs": [dialog]},
        }
        conforms(raw, schema, split)
        for d in data["dialogs"]:
            conforms(d["dialog"], [turn], f"{split}.dialog")
            decodable(
                tiny_world / "visdial" / "images" / split / f"VisualDialog_{split}_{d['image_id']:012d}.jpg",
                world_arg(tiny_world, "image_size"),
            )
    dense = load(ann / "visdial_1.0_val_dense_annotations.json")
    relevance = lambda v: len(v) == 100 and all(isinstance(x, float) and 0 <= x <= 1 for x in v)  # noqa: E731
    conforms(dense, [{"image_id": integer, "round_id": lambda v: 1 <= v <= 10, "gt_relevance": relevance}], "dense")


@pytest.mark.parametrize("ds", ["msrvtt", "msvd"])
def test_video_files(tiny_world: Path, ds: str) -> None:
    ann = tiny_world / ds / "annotations"
    exists = lambda v: text(v) and (tiny_world / ds / "videos" / v).is_file()  # noqa: E731
    if ds == "msrvtt":
        conforms(load(ann / "msrvtt_ret_train.json"), [{"video": exists, "caption": text}], "ret_train")
        conforms(load(ann / "msrvtt_ret_test.json"), [{"video": exists, "caption": strings()}], "ret_test")
    else:
        assert not list(ann.glob("*_ret_*"))
    answers = load(ann / f"{ds}_qa_answer_list.json")
    conforms(answers, [text], "answer_list")
    qids = []
    for split in ("train", "val", "test"):
        rows = load(ann / f"{ds}_qa_{split}.json")
        conforms(
            rows, [{"video": exists, "question": text, "answer": lambda v: v in answers, "question_id": integer}], split
        )
        qids += [r["question_id"] for r in rows]
    assert len(set(qids)) == len(qids)

"""The synthetic world round-trips through the real builders for every task."""

from __future__ import annotations

import json

import pytest
import torch

from vlkit.common.registry import registry
from vlkit.data.builders import load_dataset

SHAPES = [n for n in registry.list_builders() if n.startswith("shapes_")]


def test_every_real_builder_has_a_twin_or_is_web() -> None:
    names = set(registry.list_builders())
    for real in (
        "coco_caption",
        "coco_retrieval",
        "flickr30k",
        "nocaps",
        "vqav2",
        "vg_vqa",
        "nlvr2",
        "visdial",
        "msrvtt_retrieval",
        "msrvtt_qa",
        "msvd_qa",
        "conceptual_captions_3m",
        "conceptual_captions_12m",
        "sbu_caption",
        "laion",
        "image_text_json",
    ):
        assert real in names
    assert len(SHAPES) == 13


@pytest.mark.parametrize("name", SHAPES)
def test_shapes_twin_builds_and_collates(name: str) -> None:
    splits = load_dataset(name)
    assert splits
    for ds in splits.values():
        if isinstance(ds, torch.utils.data.IterableDataset):
            samples = [s for s, _ in zip(ds, range(4), strict=False)]
        else:
            assert len(ds) > 0
            samples = [ds[i] for i in range(min(3, len(ds)))]
        batch = ds.collater(samples)
        assert batch["num_skipped"] == 0
        image_keys = [k for k in ("image", "image0") if k in batch]
        assert image_keys and batch[image_keys[0]].dtype == torch.float32
        assert batch[image_keys[0]].shape[0] == len(samples)
        if "text_input" in batch:
            assert all(isinstance(t, str) and t for t in batch["text_input"])


def test_retrieval_eval_index_is_consistent() -> None:
    ds = load_dataset("shapes_coco_retrieval")["test"]
    assert len(ds.text) == len(ds.txt2img) == sum(len(t) for t in ds.img2txt)
    for img, txts in enumerate(ds.img2txt):
        assert all(ds.txt2img[t] == img for t in txts)


def test_caption_gt_matches_eval_ids() -> None:
    ds = load_dataset("shapes_coco_caption")["val"]
    gt = ds.coco_gt()
    ids = {a["image_id"] for a in gt["annotations"]}
    assert {ds[i]["image_id"] for i in range(len(ds))} <= ids
    assert len(gt["annotations"]) == 5 * len(ds)


def test_vqa_collater_flattens_answers_with_weights() -> None:
    ds = load_dataset("shapes_vqa")["train"]
    batch = ds.collater([ds[i] for i in range(6)])
    assert int(batch["n_answers"].sum()) == len(batch["answer"]) == len(batch["weight"])
    start = 0
    for n in batch["n_answers"].tolist():
        assert abs(float(batch["weight"][start : start + n].sum()) - 1.0) < 1e-6
        start += n
    val = load_dataset("shapes_vqa")["val"]
    assert val.answer_list and isinstance(val.annotations_for_eval(), dict)


def test_visdial_rounds_have_100_options_and_true_gt(tmp_path) -> None:  # noqa: ANN001
    ds = load_dataset("shapes_visdial")["val"]
    s = ds[0]
    assert len(s["answer_options"]) == 100
    raw = json.loads((ds.vis_root.parent / "annotations/visdial_1.0_val.json").read_text())
    d = raw["data"]
    turn = d["dialogs"][0]["dialog"][0]
    assert d["answers"][turn["answer_options"][turn["gt_index"]]] == d["answers"][turn["answer"]]
    assert ds.dense_annotations

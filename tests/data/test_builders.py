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
        "vg_caption",
        "laion",
        "ccs_bootstrapped",
        "laion_bootstrapped",
        "image_text_json",
    ):
        assert real in names
    assert len(SHAPES) == 13


# keys the contract (CONTRACT_INTERFACES "Samples") promises per kind of batch
TRAIN_KEYS = {
    "caption": {"image", "text_input", "image_id"},
    "vqa": {"image", "text_input", "answer", "weight", "n_answers", "question_id"},
    "nlvr": {"image0", "image1", "text_input", "label"},
    "visdial": {"image", "caption", "dialog_history", "question", "answer_options", "gt_index", "image_id", "round_id"},
}
KIND = {
    "shapes_vqa": "vqa",
    "shapes_vg_vqa": "vqa",
    "shapes_msrvtt_qa": "vqa",
    "shapes_msvd_qa": "vqa",
    "shapes_nlvr2": "nlvr",
    "shapes_visdial": "visdial",
}


@pytest.mark.parametrize("name", SHAPES)
def test_shapes_twin_builds_and_collates(name: str, build_twin) -> None:  # noqa: ANN001
    splits = build_twin(name)
    assert splits and set(splits) <= {"train", "val", "test", "dev"}
    for split, ds in splits.items():
        if isinstance(ds, torch.utils.data.IterableDataset):
            samples = [s for s, _ in zip(ds, range(4), strict=False)]
        else:
            assert len(ds) > 0
            samples = [ds[i] for i in range(min(3, len(ds)))]
        batch = ds.collater(samples)
        assert batch["num_skipped"] == 0 and ds.bad_samples.total == 0
        if split == "train":
            wanted = TRAIN_KEYS[KIND.get(name, "caption")]
            if isinstance(ds, torch.utils.data.IterableDataset):  # web shards carry no dataset-wide image index
                wanted = wanted - {"image_id"}
            assert wanted <= set(batch), (name, set(batch))
        visual = batch["image0"] if "image0" in batch else batch["image"]
        assert visual.dtype == torch.float32 and visual.shape[0] == len(samples)
        is_video = "msrvtt" in name or "msvd" in name
        assert visual.dim() == (5 if is_video else 4) and visual.shape[-3] == 3
        if "text_input" in batch:
            assert all(isinstance(t, str) and t for t in batch["text_input"])


def test_retrieval_eval_index_is_consistent(build_twin) -> None:  # noqa: ANN001
    for name in ("shapes_coco_retrieval", "shapes_flickr30k", "shapes_msrvtt_retrieval"):
        ds = build_twin(name)["test"]
        assert len(ds.text) == len(ds.txt2img) == sum(len(t) for t in ds.img2txt)
        assert len(ds.image) == len(ds.img2txt) == len(ds)
        for img, txts in enumerate(ds.img2txt):
            assert txts and all(ds.txt2img[t] == img for t in txts)
        assert ds[1]["index"] == 1


def test_retrieval_train_image_ids_are_shared_by_captions_of_one_image(build_twin) -> None:  # noqa: ANN001
    ds = build_twin("shapes_coco_retrieval")["train"]
    by_image: dict[str, set[int]] = {}
    for i, entry in enumerate(ds.annotation[:20]):
        by_image.setdefault(entry["image"], set()).add(ds[i]["image_id"])
    assert all(len(ids) == 1 for ids in by_image.values())
    assert len({next(iter(v)) for v in by_image.values()}) == len(by_image)


def test_caption_gt_matches_the_gt_file(build_twin, tiny_world) -> None:  # noqa: ANN001
    ds = build_twin("shapes_coco_caption")["val"]
    gt = ds.coco_gt()
    assert gt == json.loads((tiny_world / "coco/annotations/coco_karpathy_val_gt.json").read_text())
    assert {ds[i]["image_id"] for i in range(len(ds))} == {im["id"] for im in gt["images"]}
    assert len(gt["annotations"]) == 5 * len(ds)
    nocaps = build_twin("shapes_nocaps")["val"]
    assert {nocaps[i]["image_id"] for i in range(len(nocaps))} == {im["id"] for im in nocaps.coco_gt()["images"]}


def test_vqa_collater_flattens_answers_with_weights(build_twin) -> None:  # noqa: ANN001
    splits = build_twin("shapes_vqa")
    ds = splits["train"]
    batch = ds.collater([ds[i] for i in range(6)])
    assert int(batch["n_answers"].sum()) == len(batch["answer"]) == len(batch["weight"])
    start = 0
    for n in batch["n_answers"].tolist():
        assert abs(float(batch["weight"][start : start + n].sum()) - 1.0) < 1e-6
        start += n
    val = splits["val"]
    assert val.answer_list and isinstance(val.annotations_for_eval(), dict)


def test_visdial_rounds_have_100_options_and_true_gt(build_twin, tiny_world) -> None:  # noqa: ANN001
    ds = build_twin("shapes_visdial")["val"]
    s = ds[0]
    assert len(s["answer_options"]) == 100 and s["round_id"] == 1 and s["dialog_history"] == ""
    assert ds[1]["round_id"] == 2 and ds[1]["dialog_history"]
    raw = json.loads((tiny_world / "visdial/annotations/visdial_1.0_val.json").read_text())
    d = raw["data"]
    turn = d["dialogs"][0]["dialog"][0]
    assert s["answer_options"][s["gt_index"]] == d["answers"][turn["answer"]]
    assert ds.dense_annotations


def test_twins_default_to_the_cache_world_and_root_can_point_elsewhere(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(registry.get_builder_class("shapes_coco_caption").default_config_path())
    assert OmegaConf.to_container(cfg, resolve=False)["datasets"]["shapes_coco_caption"]["build_info"]["root"] == (
        "${vlkit_shapes:coco}"
    )
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_dataset("shapes_coco_caption", **{"build_info.root": str(tmp_path)})


def test_vg_caption_builds_blips_region_description_pairs(tmp_path) -> None:  # noqa: ANN001
    from PIL import Image

    (tmp_path / "images" / "VG_100K").mkdir(parents=True)
    Image.new("RGB", (40, 30), "green").save(tmp_path / "images" / "VG_100K" / "1.jpg")
    (tmp_path / "annotations").mkdir()
    pairs = [{"image": "VG_100K/1.jpg", "caption": "a green wall"}, {"image": "VG_100K/1.jpg", "caption": "grass"}]
    (tmp_path / "annotations" / "vg_caption.json").write_text(json.dumps(pairs))
    train = load_dataset("vg_caption", **{"build_info.root": str(tmp_path)})["train"]
    first, second = train[0], train[1]
    assert first["image"].shape == (3, 224, 224) and first["text_input"] == "a green wall"
    assert first["image_id"] == second["image_id"]  # two regions of one image are one image in ITC
    (tmp_path / "annotations" / "vg_caption.json").unlink()
    with pytest.raises(FileNotFoundError, match="vlkit data download vg_caption"):
        load_dataset("vg_caption", **{"build_info.root": str(tmp_path)})

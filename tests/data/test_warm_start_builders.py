"""The warm start's in-memory builders: their own seed stream, the held-out tail as ``val``, one scene per item."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from vlkit.common.config import ConfigError, validate_section
from vlkit.common.registry import registry
from vlkit.data.synthetic.warm_start_scenes import TEXTS_PER_SCENE, draw_scene


def _build(name: str, splits: set[str] | None = None, **overrides: object) -> dict:
    cls = registry.get_builder_class(name)
    cfg = OmegaConf.merge(OmegaConf.load(cls.default_config_path()).datasets[name], overrides)
    return cls(validate_section(cfg, cls.CONFIG_CLASS, f"datasets.{name}", "test")).build_datasets(splits)


def test_scene_and_caption_builders_split_the_same_stream() -> None:
    kw = {"scenes": 12, "held_out": 4, "seed": 5, "max_objects": 2, "specific_captions": True}
    scenes = _build("warm_start_scenes", **kw, vis_processor={"eval": {"image_size": 32}})
    captions = _build("warm_start_captions", **kw)
    assert {len(scenes["train"]), len(scenes["val"])} == {8, 4} and len(captions["val"]) == 4
    item, text = scenes["val"][1], captions["val"][1]
    assert item["image_id"] == text["image_id"] == 9  # the held-out scenes are the stream's tail
    expected = draw_scene(9, 5, 2, True)
    assert item["scene_labels"].tolist() == expected.labels and text["captions"] == expected.captions
    assert item["image"].shape == (3, 32, 32) and scenes["train"][0]["image"].shape == (3, 64, 64)
    assert len(text["captions"]) == TEXTS_PER_SCENE
    batch = captions["train"].collater([captions["train"][i] for i in range(3)])
    assert len(batch["captions"]) == 3 and batch["captions"][0] == captions["train"][0]["captions"]
    images = scenes["train"].collater([scenes["train"][i] for i in range(3)])
    assert images["image"].shape == (3, 3, 64, 64) and images["scene_labels"].dtype == torch.long


def test_stream_is_its_own_and_reproducible() -> None:
    assert draw_scene(0, 0, 4, False).labels == draw_scene(0, 0, 4, False).labels
    drawn = [draw_scene(i, 0, 4, False) for i in range(40)]
    assert len({tuple(d.labels) for d in drawn}) > 30  # scenes differ
    assert {sum(d.labels[:9]) for d in drawn} <= {1, 2, 3, 4}


def test_only_the_asked_splits_are_drawn_and_a_bad_split_is_an_error() -> None:
    assert set(_build("warm_start_captions", {"val"}, scenes=10, held_out=2)) == {"val"}
    with pytest.raises(ConfigError, match="held_out"):
        _build("warm_start_captions", scenes=10, held_out=10)

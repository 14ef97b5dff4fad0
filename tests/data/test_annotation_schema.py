"""Every builder checks its annotation entries at load: an error names file, entry and key, or a counted skip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from tests.data.conftest import twin_root
from vlkit.common.registry import registry
from vlkit.data.annotation_schema import AnnotationError, AnnotationSchema, Field, validate_entries
from vlkit.data.bad_samples import BadSampleCounter
from vlkit.data.builders import load_dataset
from vlkit.data.builders.families import WebDatasetBuilder

ANNOTATED = [
    n
    for n in registry.list_builders()
    if registry.get_builder_class(n).READS_ANNOTATIONS
    and not issubclass(registry.get_builder_class(n), WebDatasetBuilder)
]
IN_MEMORY = [n for n in registry.list_builders() if not registry.get_builder_class(n).READS_ANNOTATIONS]
TWINS = [n for n in ANNOTATED if n.startswith("shapes_")]


@pytest.mark.parametrize("name", ANNOTATED)
def test_every_builder_declares_its_annotation_format(name: str) -> None:
    cls = registry.get_builder_class(name)
    assert {"train", "eval"} <= set(cls.SCHEMAS), f"{name} declares no schema for some splits"
    assert all(any(f.required for f in s.fields) for s in cls.SCHEMAS.values())


@pytest.mark.parametrize("name", IN_MEMORY)
def test_builders_exempt_from_schemas_read_no_annotation_file(name: str) -> None:
    cls = registry.get_builder_class(name)
    cfg = OmegaConf.load(cls.default_config_path()).datasets[name]
    assert not (cfg.get("build_info") or {}).get("annotations"), f"{name} reads annotation files: declare SCHEMAS"
    assert cfg.get("data_type", cls.CONFIG_CLASS.data_type) == "memory"


def _builder(name: str, root: Path, policy: str) -> object:
    cls = registry.get_builder_class(name)
    cfg = OmegaConf.load(cls.default_config_path()).datasets[name]
    cfg.build_info.root = str(root)
    return cls(cfg, on_bad_sample=policy)


@pytest.mark.parametrize("name", TWINS)
def test_a_missing_key_names_file_entry_and_key_or_is_counted(name: str, tiny_world: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(twin_root(name, tiny_world) / "annotations", root / "annotations")
    builder = _builder(name, root, "error")
    split, info = next(iter(builder.cfg.build_info.annotations.items()))
    path = root / info.storage
    raw = json.loads(path.read_text())
    entries = raw["data"]["dialogs"] if isinstance(raw, dict) else raw
    key = next(f.key for f in builder.annotation_schema(split).fields if f.required)
    assert len(entries) >= 3
    del entries[1][key]
    path.write_text(json.dumps(raw))

    with pytest.raises(AnnotationError, match=rf"{path.name}: entry 1: key '{key}': missing\. Fix the entry"):
        builder.load_annotation(split, info)
    skipping = _builder(name, root, "skip")
    kept = skipping.load_annotation(split, info)
    assert kept and skipping.annotation_skips[split].by_reason == {f"annotation '{key}': missing": 1}


@pytest.fixture
def image_text(tmp_path: Path) -> dict:
    (tmp_path / "images").mkdir()
    return {"build_info.root": str(tmp_path), "build_info.annotations.train.storage": "train.json"}


def test_skipped_entries_reach_the_dataset_counter(image_text: dict, tmp_path: Path) -> None:
    entries = [
        {"image": "a.jpg", "caption": "fine"},
        {"image": "b.jpg"},
        {"image": "", "caption": "no image"},
        {"image": "c.jpg", "caption": 7},
        "not an object",
    ]
    (tmp_path / "train.json").write_text(json.dumps(entries))
    ds = load_dataset("image_text_json", on_bad_sample="skip", **image_text)["train"]
    assert len(ds) == 1 and ds.bad_samples.total == 4
    assert ds.bad_samples.by_reason == {
        "annotation 'caption': missing": 1,
        "annotation 'image': empty": 1,
        "annotation 'caption': wrong type": 1,
        "annotation 'entry': wrong type": 1,
    }
    with pytest.raises(AnnotationError, match=r"train.json: entry 1: key 'caption': missing"):
        load_dataset("image_text_json", on_bad_sample="error", **image_text)


def test_a_file_that_is_not_a_list_is_always_an_error(image_text: dict, tmp_path: Path) -> None:
    (tmp_path / "train.json").write_text(json.dumps({"image": "a.jpg", "caption": "x"}))
    with pytest.raises(AnnotationError, match=r"train.json: expected a JSON list of \{'image'.*got an object"):
        load_dataset("image_text_json", on_bad_sample="skip", **image_text)


SCHEMA = AnnotationSchema(
    (
        Field("id", (int,), unique=True),
        Field("name", (str,)),
        Field("tags", (list,), items=(str,), required=False),
        Field("pair", (list,), items=(str,), length=2, required=False),
        Field("nested", (list,), items=AnnotationSchema((Field("n", (int,)),)), required=False, non_empty=False),
        Field("score", (float,), required=False),
    )
)


@pytest.mark.parametrize(
    "entry,message",
    [
        ({"name": "x"}, "key 'id': missing"),
        ({"id": None, "name": "x"}, "key 'id': null"),
        ({"id": True, "name": "x"}, "key 'id': expected an integer, got true/false"),
        ({"id": "1", "name": "x"}, "key 'id': expected an integer, got a string"),
        ({"id": 1, "name": "  "}, "key 'name': empty"),
        ({"id": 1, "name": "x", "tags": []}, "key 'tags': empty"),
        ({"id": 1, "name": "x", "tags": ["a", 3]}, r"key 'tags\[1\]': expected a string, got an integer"),
        ({"id": 1, "name": "x", "tags": "a"}, "key 'tags': expected a list of strings, got a string"),
        ({"id": 1, "name": "x", "pair": ["a"]}, "key 'pair': expected 2 items, got 1"),
        ({"id": 1, "name": "x", "nested": [{"n": 1}, {}]}, r"key 'nested\[1\].n': missing"),
        ({"id": 1, "name": "x", "nested": [3]}, r"key 'nested\[0\]': expected an object, got an integer"),
        ({"id": 1, "name": "x", "score": "high"}, "key 'score': expected a number, got a string"),
        ({"id": 0, "name": "x"}, r"key 'id': duplicate value 0 \(first at entry 0\)"),
    ],
)
def test_schema_problems_are_named(entry: dict, message: str) -> None:
    entries = [{"id": 0, "name": "first", "score": 1}, entry]
    with pytest.raises(AnnotationError, match=rf"^f.json: entry 1: {message}\. Fix the entry"):
        validate_entries(entries, SCHEMA, "f.json", "error", BadSampleCounter("t"))
    counter = BadSampleCounter("t")
    assert validate_entries(entries, SCHEMA, "f.json", "skip", counter) == entries[:1] and counter.total == 1

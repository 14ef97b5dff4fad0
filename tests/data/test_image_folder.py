"""The image_folder builder: one sub-folder per class, names from folders (or a mapping), clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from vlkit.data.builders import load_dataset


def _tree(root: Path, classes: dict[str, int]) -> None:
    for name, n in classes.items():
        (root / "val" / name).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(root / "val" / name / f"{i}.png")


def test_classes_labels_and_names(tmp_path: Path) -> None:
    _tree(tmp_path, {"golden_retriever": 2, "n0001": 3})
    (tmp_path / "names.json").write_text(json.dumps({"n0001": "tabby cat"}))
    ds = load_dataset(
        "image_folder",
        **{
            "build_info.root": str(tmp_path),
            "build_info.annotations.val.class_names_storage": "names.json",
            "vis_processor.eval.image_size": 16,
        },
    )["val"]
    assert ds.class_names == ["golden retriever", "tabby cat"]
    assert len(ds) == 5 and [ds[i]["label"] for i in range(5)] == [0, 0, 1, 1, 1]
    assert ds[4]["image"].shape == (3, 16, 16) and ds[4]["image_id"] == 4
    small = load_dataset("image_folder", **{"build_info.root": str(tmp_path), "max_samples": 2})["val"]
    assert sorted(small[i]["label"] for i in range(2)) == [0, 1]  # a subset keeps every class


def test_missing_or_empty_folders_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"datasets.image_folder.build_info.annotations.val.storage"):
        load_dataset("image_folder", **{"build_info.root": str(tmp_path)})
    (tmp_path / "val" / "empty_class").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="holds no image"):
        load_dataset("image_folder", **{"build_info.root": str(tmp_path)})

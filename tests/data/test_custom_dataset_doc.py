"""The example in docs/custom_dataset.md is a complete config that validates and builds the user's data."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from vlkit.common.config import Config
from vlkit.common.registry import registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "custom_dataset.md"


def test_documented_config_trains_on_a_json_list(tmp_path: Path) -> None:
    text = DOC.read_text()
    config = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    root = tmp_path / "mydata"
    (root / "images/cats").mkdir(parents=True)
    (root / "annotations").mkdir()
    Image.new("RGB", (32, 24), (200, 100, 50)).save(root / "images/cats/001.jpg")
    (root / "annotations/train.json").write_text(json.dumps([{"image": "cats/001.jpg", "caption": "a cat on a sofa"}]))
    assert "/data/mydata" in config
    (tmp_path / "my_caption.yaml").write_text(config.replace("/data/mydata", str(root)))
    cfg = Config(tmp_path / "my_caption.yaml")
    section = cfg.datasets_cfg.image_text_json
    splits = registry.get_builder_class("image_text_json")(section).build_datasets()
    sample = splits["train"][0]
    assert sample["text_input"] == "a cat on a sofa" and sample["image"].shape == (3, 384, 384)
    assert cfg.run_cfg.train_splits == ["train"]

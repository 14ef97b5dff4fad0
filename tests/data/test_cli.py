"""`vlkit data synth` writes a world the builders read (through whichever synth parser is installed)."""

from __future__ import annotations

import json
from pathlib import Path

from vlkit.cli import run


def test_data_synth_writes_a_world(tmp_path: Path) -> None:
    out = tmp_path / "world"
    args = ["--out", str(out), "--num-images", "20", "--num-web-images", "20", "--num-videos", "2"]
    assert run(["data", "synth", *args, "--image-size", "32"]) == 0
    assert json.loads((out / "WORLD.json").read_text())["num_images"] == 20
    assert (out / "coco/annotations/coco_karpathy_train.json").is_file()

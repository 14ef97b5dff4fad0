"""``vlkit data synth``: the options of vlkit.data.synthetic.cli reach generate_world."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from vlkit.cli import run
from vlkit.data.synthetic.cli import add_synth_arguments, run_synth

SMALL = ["--num-images", "10", "--num-web-images", "8", "--num-videos", "3", "--image-size", "32", "--quiet"]


def test_synth_writes_the_chosen_parts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "world"
    args = ["data", "synth", "--out", str(out), *SMALL, "--seed", "4", "--noise", "0.5", "--tasks", "web", "nlvr2"]
    assert run([*args, "--max-objects", "1"]) == 0
    marker = json.loads((out / "WORLD.json").read_text())
    assert marker["tasks"] == ["web", "nlvr2"] and marker["seed"] == 4 and marker["noise"] == 0.5
    assert marker["max_objects"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["WORLD.json", "nlvr2", "web"]
    labels = json.loads((out / "web/noise_labels.json").read_text())
    assert sum(v["noisy"] for v in labels.values()) == 4
    assert "web: web_images 8, web_noisy 4" in capsys.readouterr().out


def test_force_regenerates_an_identical_world(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_synth_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path / "w"), *SMALL, "--tasks", "coco"])
    assert run_synth(args) == 0
    sentinel = tmp_path / "w" / "coco" / "sentinel"
    sentinel.write_text("")
    assert run_synth(args) == 0 and sentinel.exists()
    forced = parser.parse_args(["--out", str(tmp_path / "w"), *SMALL, "--tasks", "coco", "--force"])
    assert run_synth(forced) == 0
    assert not sentinel.exists() and (tmp_path / "w" / "WORLD.json").is_file()


def test_bad_options_fail_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["data", "synth", "--out", str(tmp_path / "w"), *SMALL, "--noise", "1.5"]) == 2
    assert "--noise" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(["data", "synth", "--out", str(tmp_path / "w"), "--tasks", "imagenet"])

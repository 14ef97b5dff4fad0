"""The tested example of docs/predict.md runs as written, through the real CLI, with a trained tiny model."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from tests.models.test_zero_shot import above_chance_floor
from vlkit.cli import run

DOC = Path(__file__).resolve().parents[2] / "docs" / "predict.md"
MARKER = "<!-- tested: tests/predict/test_docs.py -->"


def documented_commands() -> list[list[str]]:
    """The ``vlkit`` commands of the code block after the marker (backslash continuations joined)."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    joined = block.replace("\\\n", " ")
    return [shlex.split(line)[1:] for line in joined.splitlines() if line.startswith("vlkit ")]


def test_the_marked_block_has_the_commands() -> None:
    commands = documented_commands()
    assert [c[:2] for c in commands] == [["data", "synth-classes"], ["predict", "classify"]]


@pytest.mark.slow
def test_documented_classify_example(trained_itc_checkpoint: Path, tmp_path: Path, monkeypatch) -> None:
    shutil.copy(trained_itc_checkpoint, tmp_path / "tiny_colours.safetensors")
    shutil.copy(trained_itc_checkpoint.with_suffix(".yaml"), tmp_path / "tiny_colours.yaml")
    monkeypatch.chdir(tmp_path)
    for command in documented_commands():
        assert run(command) == 0, command
    records = [json.loads(line) for line in (tmp_path / "colours.jsonl").read_text().splitlines()]
    assert len(records) == 60 and all(len(r["top"]) == 2 for r in records)
    correct = sum(r["label"] == r["id"].split("/")[0] for r in records)  # ids are <class folder>/<file>
    assert correct / len(records) >= above_chance_floor(6, len(records)), correct

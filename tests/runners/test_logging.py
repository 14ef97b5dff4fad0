from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from vlkit.common.config import ConfigError
from vlkit.runners.logging import RunLogger, progress, progress_enabled


def test_records_are_json_lines_with_type_and_step(tmp_path: Path) -> None:
    log = RunLogger(tmp_path, enabled=True)
    log.log("train", 3, loss=torch.tensor(0.5), lr=1e-4, bad=math.nan, metrics={"val": {"acc": 1}})
    log.log("epoch", 3, num_skipped=2)
    lines = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "train" and lines[0]["step"] == 3 and lines[0]["loss"] == 0.5
    assert lines[0]["bad"] is None and lines[0]["metrics"] == {"val": {"acc": 1}}
    assert lines[1] == {**lines[1], "type": "epoch", "num_skipped": 2}


def test_disabled_logger_writes_nothing(tmp_path: Path) -> None:
    RunLogger(tmp_path, enabled=False).log("train", 1, loss=1.0)
    assert not (tmp_path / "log.jsonl").exists()


def test_progress_modes(capsys: pytest.CaptureFixture) -> None:
    assert not progress_enabled("off") and progress_enabled("on")
    assert not progress_enabled("auto")  # pytest's stderr is not a terminal
    with pytest.raises(ConfigError, match="run.progress"):
        progress_enabled("sometimes")
    assert list(progress(range(3), 3, "x", "off")) == [0, 1, 2]
    assert list(progress(range(3), 3, "train 0", "on")) == [0, 1, 2]
    assert "train 0" in capsys.readouterr().err  # tqdm bar on stderr

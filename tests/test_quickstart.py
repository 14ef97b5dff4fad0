"""The quickstart pipeline end to end, in its reduced (smoke) size, as CI runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlkit.cli import run

pytestmark = pytest.mark.slow


def test_quickstart_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[1])  # the pipeline names project configs by repo path
    assert run(["quickstart", "--smoke", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "noisy web" in out and "bootstrapped" in out and "retrieval TR@1" in out and "CapFilt noise filter" in out
    assert "Targets:" in out and "filter score AUC >= 0.85" in out
    stages = [
        "world",
        "warm_start",
        "pretrain_noisy",
        "caption_noisy",
        "retrieval_noisy",
        "filter_noisy",
        "capfilt",
        "pretrain_boot",
        "caption_boot",
        "retrieval_boot",
    ]
    for stage in stages:
        assert (tmp_path / stage / "STAGE.json").is_file(), stage
    report = json.loads((tmp_path / "capfilt" / "report.json").read_text())
    assert report["counts"]["images"] == 32
    # the threshold was calibrated on the world's held-out val pairs (6 images x 5 captions)
    assert (
        report["calibration"]["matching_pairs"] == 30 and report["itm_threshold"] == report["calibration"]["threshold"]
    )
    summary = json.loads((tmp_path / "quickstart_results.json").read_text())
    assert summary["smoke"] and summary["chance_r1"] == 5.0  # 20 test images in the smoke world
    assert set(summary["arms"]) == {"noisy", "bootstrapped"} and len(summary["targets"]) == 9
    boot = json.loads((tmp_path / "capfilt" / "bootstrapped.json").read_text())
    assert sum(p["source"] == "human" for p in boot) == report["pairs"]["human"] > 0
    # a second run finds every stage done and only prints the table again
    assert run(["quickstart", "--smoke", "--output-dir", str(tmp_path)]) == 0
    done = json.loads((tmp_path / "retrieval_boot" / "STAGE.json").read_text())["result"]
    assert 0.0 <= done["metrics"]["test"]["r_mean"] <= 100.0

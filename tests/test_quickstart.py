"""The quickstart pipeline end to end, in its reduced (smoke) size, as CI runs it: from vlkit built as a wheel
and installed outside the checkout, in a directory outside the checkout (the pipeline and every config it
reads must be package data)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "vlkit", "projects")
STAGES = [
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


QUIET = {"capture_output": True, "text": True}  # setuptools' build warnings are shown only on failure


def _check(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def installed_vlkit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """vlkit as ``pip install .`` makes it (a wheel, not editable), in a directory of its own (``--target``).

    The wheel is built from a copy of the checkout's sources, so that building leaves nothing in the checkout.
    """
    src = tmp_path_factory.mktemp("vlkit_src")
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")
    for name in SOURCES:
        path = REPO / name
        (shutil.copytree(path, src / name, ignore=junk) if path.is_dir() else shutil.copy2(path, src / name))
    dist, site = tmp_path_factory.mktemp("dist"), tmp_path_factory.mktemp("site")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    _check(subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src)], **QUIET))
    wheel = next(dist.glob("vlkit-*.whl"))
    _check(subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], **QUIET))
    return site


def _vlkit(site: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``vlkit`` command (only the installed package on PYTHONPATH), run in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [str(site / "bin" / "vlkit"), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=1200
    )


def test_installed_wheel_runs_the_smoke_quickstart_anywhere(installed_vlkit: Path, tmp_path: Path) -> None:
    elsewhere, out_dir = tmp_path / "elsewhere", tmp_path / "quickstart"
    elsewhere.mkdir()
    where = subprocess.run(
        [sys.executable, "-c", "import vlkit; print(vlkit.__file__)"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env={**os.environ, "PYTHONPATH": str(installed_vlkit)},
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(installed_vlkit)  # not the checkout's vlkit
    assert (installed_vlkit / "vlkit" / "_projects" / "blip" / "pipelines" / "quickstart.yaml").is_file()

    args = ["quickstart", "--smoke", "--jobs", "1", "--output-dir", str(out_dir)]
    run = _vlkit(installed_vlkit, args, elsewhere)
    assert run.returncode == 0, run.stderr[-4000:]
    out = run.stdout
    assert "noisy web" in out and "bootstrapped" in out and "retrieval TR@1" in out and "CapFilt noise filter" in out
    assert "Targets:" in out and "filter score AUC >= 0.85" in out
    for stage in STAGES:
        assert (out_dir / stage / "STAGE.json").is_file(), stage
    report = json.loads((out_dir / "capfilt" / "report.json").read_text())
    assert report["counts"]["images"] == 32
    # the threshold was calibrated on the world's held-out val pairs (6 images x 5 captions)
    assert (
        report["calibration"]["matching_pairs"] == 30 and report["itm_threshold"] == report["calibration"]["threshold"]
    )
    summary = json.loads((out_dir / "quickstart_results.json").read_text())
    assert summary["smoke"] and summary["chance_r1"] == 5.0  # 20 test images in the smoke world
    assert set(summary["arms"]) == {"noisy", "bootstrapped"} and len(summary["targets"]) == 9
    boot = json.loads((out_dir / "capfilt" / "bootstrapped.json").read_text())
    assert sum(p["source"] == "human" for p in boot) == report["pairs"]["human"] > 0
    # a second run finds every stage done and only prints the table again
    again = _vlkit(installed_vlkit, args, elsewhere)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "already done, skipping" in again.stderr
    done = json.loads((out_dir / "retrieval_boot" / "STAGE.json").read_text())["result"]
    assert 0.0 <= done["metrics"]["test"]["r_mean"] <= 100.0
    assert not list(elsewhere.iterdir())  # everything went to --output-dir and the cache

"""Fixtures for runner tests: a project YAML for the toy components and a helper to run a job."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.runners import toy_components as toy
from vlkit.common.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]

TOY_YAML = f"""\
custom_imports: [tests.runners.toy_plugin]
model:
  arch: {toy.MODEL}
datasets:
  {toy.BUILDER}: {{}}
run:
  task: {toy.TASK}
  max_epoch: 2
  batch_size_train: 4
  batch_size_eval: 3
  init_lr: 0.01
  warmup_steps: 2
  num_workers: 0
  log_freq: 1
  valid_splits: [val]
  progress: "off"
  device: cpu
"""


@pytest.fixture(autouse=True)
def _toy_registered() -> Iterator[None]:
    """The toy components are registered only while a runner test runs."""
    toy.register()
    try:
        yield
    finally:
        toy.unregister()


@pytest.fixture
def toy_cfg_path(tmp_path: Path) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_YAML)
    return path


@pytest.fixture
def run_toy(toy_cfg_path: Path, tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Run a toy job in-process with extra ``--options``; output under tmp_path/out unless overridden."""
    from vlkit.runners.job import run_job

    def _run(*options: str, evaluate_only: bool = False) -> dict[str, Any]:
        opts = [f"run.output_dir={tmp_path / 'out'}", *options]
        return run_job(Config(toy_cfg_path, opts), evaluate_only=evaluate_only)

    return _run


def read_log(job_dir: str | Path) -> list[dict]:
    return [json.loads(line) for line in (Path(job_dir) / "log.jsonl").read_text().splitlines()]


def final_weights(job_dir: str | Path) -> dict[str, torch.Tensor]:
    from vlkit.runners.checkpointing import latest_checkpoint, load_checkpoint_file

    return load_checkpoint_file(latest_checkpoint(Path(job_dir) / "checkpoints"))["model"]


def max_abs_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def cli_command(*args: str) -> list[str]:
    """``python -m vlkit ARGS``, or the toy launcher while vlkit's CLI cannot build (a listed module missing)."""
    import sys

    from vlkit.cli import SUBCOMMANDS, build_parser

    try:
        build_parser()
        ok = {"train", "evaluate"} <= set(SUBCOMMANDS)
    except ImportError:
        ok = False
    return [sys.executable, "-m", "vlkit" if ok else "tests.runners.cli_launcher", *args]


def subprocess_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    return env

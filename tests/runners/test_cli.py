from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from tests.runners.conftest import cli_command, read_log, subprocess_env
from vlkit.runners import cli_evaluate, cli_train


def _parse(module: object, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def test_train_then_evaluate_modules(toy_cfg_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = _parse(cli_train, ["--cfg-path", str(toy_cfg_path), "--options", f"run.output_dir={out}", "run.job_name=j"])
    assert cli_train.main(args) == 0
    ckpt = out / "j" / "checkpoints" / "checkpoint_best.pth"
    assert ckpt.is_file()
    opts = [f"run.output_dir={out}", "run.test_splits=[test]", f"run.resume_ckpt_path={ckpt}"]
    assert cli_evaluate.main(_parse(cli_evaluate, ["--cfg-path", str(toy_cfg_path), "--options", *opts])) == 0
    eval_dirs = [d for d in out.iterdir() if d.name.startswith("eval_")]
    assert len(eval_dirs) == 1
    assert {r["split"] for r in read_log(eval_dirs[0]) if r["type"] == "eval"} == {"val", "test"}


def test_cli_reports_config_errors(toy_cfg_path: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        cli_command("train", "--cfg-path", str(toy_cfg_path), "--options", "run.max_epohc=1"),
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "run.max_epohc" in proc.stderr and "max_epoch" in proc.stderr

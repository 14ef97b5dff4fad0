"""``vlkit train --cfg-path X.yaml [--options k=v ...]`` (also under ``torchrun ... -m vlkit train``)."""

from __future__ import annotations

import argparse

from vlkit.common.config import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cfg-path`` and ``--options`` (shared with ``vlkit evaluate``)."""
    parser.add_argument("--cfg-path", required=True, help="project YAML (model, datasets, run sections)")
    parser.add_argument(
        "--options",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, e.g. run.init_lr=1e-5 run.resume_ckpt_path=auto",
    )


def main(args: argparse.Namespace, evaluate_only: bool = False) -> int:
    """Build the config and run the job."""
    from vlkit.runners.job import run_job

    run_job(Config(args.cfg_path, args.options), evaluate_only=evaluate_only)
    return 0

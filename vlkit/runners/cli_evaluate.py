"""``vlkit evaluate --cfg-path X.yaml [--options k=v ...]``: evaluate run.valid_splits and run.test_splits.

Weights come from the model config (``finetuned``/``pretrained``) or, with ``run.resume_ckpt_path``,
from a training checkpoint (``auto`` = the latest in the job directory).
"""

from __future__ import annotations

import argparse

from vlkit.runners import cli_train

add_arguments = cli_train.add_arguments


def main(args: argparse.Namespace) -> int:
    """Build the config and evaluate."""
    return cli_train.main(args, evaluate_only=True)

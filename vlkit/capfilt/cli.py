"""``vlkit capfilt --cfg-path X.yaml [--options capfilt.key=value ...]`` (also under torchrun)."""

from __future__ import annotations

import argparse
import json

from vlkit.common import dist


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cfg-path", required=True, help="CapFilt YAML (see projects/blip/capfilt/)")
    parser.add_argument("--options", nargs="+", default=[], help="overrides, e.g. capfilt.itm_threshold=0.6")


def main(args: argparse.Namespace) -> int:
    from vlkit.capfilt.config import load_capfilt_config
    from vlkit.capfilt.job import run_capfilt

    cfg = load_capfilt_config(args.cfg_path, args.options)
    dist.init_distributed_from_env()
    report = run_capfilt(cfg)
    if dist.is_main_process():
        print(json.dumps(report, indent=2))
    return 0

"""``vlkit run PIPELINE.yaml [--options <stage|kind|*>:key=value ...]``."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", help="pipeline YAML, e.g. projects/blip/pipelines/capfilt_recipe.yaml")
    parser.add_argument(
        "--options",
        nargs="+",
        default=[],
        help="overrides for stages: '<stage name|train|evaluate|capfilt|*>:key=value', e.g. 'train:run.max_epoch=1'",
    )
    parser.add_argument("--output-dir", default=None, help="override pipeline.output_dir")


def main(args: argparse.Namespace) -> int:
    from vlkit.pipelines.pipeline import Pipeline, load_pipeline

    cfg = load_pipeline(args.pipeline)
    if args.output_dir:
        cfg.output_dir = args.output_dir
    results = Pipeline(cfg, args.options).run()
    print(
        json.dumps(
            {name: {k: v for k, v in r.items() if not isinstance(v, dict | list)} for name, r in results.items()},
            indent=2,
        )
    )
    return 0

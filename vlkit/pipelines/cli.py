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
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="run independent stages side by side, this many processes at a time, each with its share of the "
        "CPU cores (logs in <output_dir>/logs/)",
    )
    parser.add_argument("--only", default=None, help="run this stage alone (the stages before it must be done)")


def main(args: argparse.Namespace) -> int:
    from vlkit.pipelines.parallel import run_pipeline
    from vlkit.pipelines.pipeline import Pipeline, load_pipeline

    cfg = load_pipeline(args.pipeline)
    if args.output_dir:
        cfg.output_dir = args.output_dir
    if args.jobs < 1:
        raise SystemExit("--jobs must be at least 1")
    if args.only is not None:
        from vlkit.pipelines.parallel import accept_more_threads

        accept_more_threads()  # the parallel scheduler may hand this stage the cores others freed
        results = Pipeline(cfg, args.options).run(only=args.only)
    else:
        results = run_pipeline(cfg, args.options, jobs=args.jobs)
    print(
        json.dumps(
            {name: {k: v for k, v in r.items() if not isinstance(v, dict | list)} for name, r in results.items()},
            indent=2,
        )
    )
    return 0

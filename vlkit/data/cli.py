"""``vlkit data synth ...`` (the synthetic world) and ``vlkit data download NAME`` (public annotations).

Wired as the ``data`` subcommand of ``vlkit`` (``add_arguments`` / ``main``).
"""

from __future__ import annotations

import argparse

from vlkit.data.synthetic.cli import add_synth_arguments, run_synth


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``vlkit data``: the ``synth`` and ``download`` actions."""
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    synth = sub.add_parser("synth", help="write the synthetic shapes world in the real datasets' formats")
    add_synth_arguments(synth)
    from vlkit.data.synthetic import classes

    classes.add_arguments(
        sub.add_parser("synth-classes", help="one-object shapes images in one folder per colour (or shape)")
    )
    dl = sub.add_parser("download", help="download a dataset's public annotation files")
    dl.add_argument("name", help="registered dataset builder, e.g. coco_caption")
    dl.add_argument("--root", default=None, help="dataset directory (default: the config's build_info.root)")
    dl.add_argument(
        "--base-url",
        default=None,
        help="fetch every file from this server instead (same file names), e.g. a mirror or http://127.0.0.1:8000",
    )
    dl.add_argument(
        "--options", nargs="+", default=[], help="overrides of the dataset section, e.g. build_info.root=/data"
    )
    dl.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    """Run ``vlkit data ACTION``; returns the exit code."""
    if args.data_command == "synth":
        return run_synth(args)
    if args.data_command == "synth-classes":
        from vlkit.data.synthetic.classes import run

        return run(args)
    from omegaconf import OmegaConf

    from vlkit.common.config import parse_options, validate_section
    from vlkit.common.registry import registry
    from vlkit.data.download import download_dataset

    builder_cls = registry.get_builder_class(args.name)
    cfg = OmegaConf.merge(
        OmegaConf.load(builder_cls.default_config_path()).datasets[args.name], parse_options(args.options)
    )
    if args.root:
        cfg.build_info.root = args.root
    cfg = validate_section(cfg, builder_cls.CONFIG_CLASS, f"datasets.{args.name}", "vlkit data download")
    for path in download_dataset(builder_cls(cfg), progress=not args.no_progress, base_url=args.base_url):
        print(path)
    return 0

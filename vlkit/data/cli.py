"""``vlkit data synth ...`` (the synthetic world) and ``vlkit data download NAME`` (public annotations).

The lead wires this module as the ``data`` subcommand of ``vlkit`` (``add_arguments`` / ``main``).
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType


def _synthetic_cli() -> ModuleType | None:
    """``vlkit.data.synthetic.cli`` (owner of the ``synth`` options) when it is installed."""
    try:
        return importlib.import_module("vlkit.data.synthetic.cli")
    except ModuleNotFoundError as err:
        if err.name != "vlkit.data.synthetic.cli":
            raise
        return None


def _add_basic_synth_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help="output directory (default: $VLKIT_CACHE/datasets/shapes)")
    parser.add_argument("--num-images", type=int, default=600, help="COCO-style images (others scale with it)")
    parser.add_argument("--num-web-images", type=int, default=1200, help="noisy web images")
    parser.add_argument("--noise", type=float, default=0.4, help="fraction of noisy web captions")
    parser.add_argument("--num-videos", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)


def _run_basic_synth(args: argparse.Namespace) -> int:
    from vlkit.common.paths import cache_root
    from vlkit.data.synthetic.world import generate_world

    info = generate_world(
        args.out or cache_root() / "datasets" / "shapes",
        num_images=args.num_images,
        num_web_images=args.num_web_images,
        noise=args.noise,
        seed=args.seed,
        image_size=args.image_size,
        num_videos=args.num_videos,
    )
    print(f"synthetic world written to {info.root}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``vlkit data``: the ``synth`` and ``download`` actions."""
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    synth = sub.add_parser("synth", help="write the synthetic shapes world in the real datasets' formats")
    synthetic_cli = _synthetic_cli()
    if synthetic_cli is not None:
        synthetic_cli.add_synth_arguments(synth)
    else:
        _add_basic_synth_arguments(synth)
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
        synthetic_cli = _synthetic_cli()
        return synthetic_cli.run_synth(args) if synthetic_cli is not None else _run_basic_synth(args)
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

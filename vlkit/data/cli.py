"""``vlkit data synth ...`` (the synthetic world) and ``vlkit data download NAME`` (public annotations)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    synth = sub.add_parser("synth", help="write the synthetic shapes world in the real datasets' formats")
    synth.add_argument("--out", required=True, help="output directory")
    synth.add_argument(
        "--num-images", type=int, default=600, help="COCO-style images (Flickr/NLVR/VisDial scale with it)"
    )
    synth.add_argument("--num-web-images", type=int, default=1200, help="noisy web images")
    synth.add_argument("--noise", type=float, default=0.4, help="fraction of noisy web captions")
    synth.add_argument("--num-videos", type=int, default=40)
    synth.add_argument("--image-size", type=int, default=96)
    synth.add_argument("--seed", type=int, default=0)
    dl = sub.add_parser("download", help="download a dataset's public annotation files")
    dl.add_argument("name", help="registered dataset builder, e.g. coco_caption")
    dl.add_argument("--root", default=None, help="dataset directory (default: the config's build_info.root)")
    dl.add_argument(
        "--options", nargs="+", default=[], help="overrides of the dataset section, e.g. build_info.root=/data"
    )


def main(args: argparse.Namespace) -> int:
    if args.data_command == "synth":
        from vlkit.data.synthetic.world import generate_world

        info = generate_world(
            args.out,
            num_images=args.num_images,
            num_web_images=args.num_web_images,
            noise=args.noise,
            seed=args.seed,
            image_size=args.image_size,
            num_videos=args.num_videos,
        )
        print(f"synthetic world written to {info.root}")
        return 0
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
    for path in download_dataset(builder_cls(cfg)):
        print(path)
    return 0

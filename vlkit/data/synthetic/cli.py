"""Options and action of ``vlkit data synth`` (wired into ``vlkit data`` by vlkit/data/cli.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vlkit.data.synthetic.world import PARTS


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``synth`` options: sizes, noise, seed, which parts to write."""
    parser.add_argument("--out", default=None, help="output directory (default: $VLKIT_CACHE/datasets/shapes)")
    parser.add_argument(
        "--num-images", type=int, default=600, help="COCO-style images; Flickr30k/NoCaps/NLVR2/VisDial scale with it"
    )
    parser.add_argument("--num-web-images", type=int, default=1200, help="images of the noisy web pool")
    parser.add_argument("--noise", type=float, default=0.4, help="fraction of noisy web captions, in [0, 1]")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (same seed, same bytes)")
    parser.add_argument("--image-size", type=int, default=96, help="image side in pixels (videos: clamped to 64-96)")
    parser.add_argument("--num-videos", type=int, default=120, help="clips of each of MSRVTT and MSVD")
    parser.add_argument("--shard-size", type=int, default=200, help="web samples per webdataset tar shard")
    parser.add_argument(
        "--max-objects", type=int, default=4, help="most objects per COCO/Flickr30k/web scene (1-4; 1: a simple world)"
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=PARTS,
        default=None,
        metavar="PART",
        help=f"parts to write (default all): {' '.join(PARTS)}",
    )
    parser.add_argument("--force", action="store_true", help="regenerate even if an identical world is there")
    parser.add_argument("--quiet", action="store_true", help="no per-part progress lines")


def run_synth(args: argparse.Namespace) -> int:
    """Generate the world ``args`` describe (``add_synth_arguments``); returns the exit code."""
    from vlkit.data.synthetic.world import MARKER, default_world_root, generate_world

    out = Path(args.out) if args.out else default_world_root()
    if args.force:
        (out / MARKER).unlink(missing_ok=True)  # an unmarked world is regenerated
    info = generate_world(
        out,
        num_images=args.num_images,
        num_web_images=args.num_web_images,
        noise=args.noise,
        seed=args.seed,
        image_size=args.image_size,
        num_videos=args.num_videos,
        tasks=args.tasks,
        shard_size=args.shard_size,
        max_objects=args.max_objects,
        progress=not args.quiet,
    )
    print(f"synthetic world at {info.root} (seed {info.seed}):")
    for part, counts in info.counts.items():
        print(f"  {part}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


__all__ = ["add_synth_arguments", "run_synth"]

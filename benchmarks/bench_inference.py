"""vlkit vs transformers' BLIP on the same random weights (CPU by default): caption generation (beam 3, batch 4
and 8), ITM scoring and image features; checks both give the same outputs and prints the median (min-max)
throughput of each over the repeats and the ratio of the medians.

    python benchmarks/bench_inference.py [--size base] [--caption-batches 4 8] [--batch 8] [--repeats 3]
    python benchmarks/bench_inference.py --size tiny      # smoke run: tiny models at 64 px, seconds

The allocator setting is per process, so the default (``--allocator both``) times both models with glibc's
default malloc first, then both with vlkit's ``reuse`` setting (what ``vlkit train/evaluate/predict`` and
CapFilt use on CPU), and prints the three comparisons: model code alone under each allocator, and each library
as it runs by default.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from _common import Timing, print_header, ratio_text, time_pair
from _pairs import build_caption_pair, build_itm_pair, time_caption_generation, time_itm

from vlkit.common.cpu_allocator import configure_cpu_allocator


@dataclass
class Row:
    workload: str
    batch: int
    transformers: Timing
    vlkit: Timing
    same: str


def agreement(diff: float, tol: float = 1e-3) -> str:
    return f"{'yes' if diff < tol else 'NO'} (max abs diff {diff:.1e})"


def measure(args: argparse.Namespace, models: tuple, pool: torch.Tensor) -> list[Row]:
    """One pass over the workloads with the allocator as it is now."""
    hf_cap, cap, hf_ret, itm = models
    rows = []
    for batch in args.caption_batches:
        t_hf, t_vl, same = time_caption_generation(
            hf_cap, cap, pool[:batch], args.repeats, args.max_length, args.min_length
        )
        rows.append(
            Row(f"caption generation (beam 3, max {args.max_length})", batch, t_hf, t_vl, f"{same}/{batch} captions")
        )
    images = pool[: args.batch]
    t_hf, t_vl, diff = time_itm(hf_ret, itm, images, args.repeats)
    rows.append(Row("ITM scoring", args.batch, t_hf, t_vl, agreement(diff)))
    (t_hf, f_hf), (t_vl, f_vl) = time_pair(
        lambda: hf_ret.vision_model(pixel_values=images).last_hidden_state,
        lambda: itm.visual_encoder(images),
        args.repeats,
    )
    rows.append(Row("image features", args.batch, t_hf, t_vl, agreement(float((f_hf - f_vl).abs().max()))))
    return rows


def print_rows(title: str, rows: list[Row], repeats: int) -> None:
    print(f"\n{title}")
    print(f"images/s: median (min-max) of {repeats} repeats; ratio = vlkit / transformers, ratio of medians")
    print(f"{'workload':36s} {'batch':>5s} {'transformers img/s':>22s} {'vlkit img/s':>22s} {'ratio':>7s}  same output")
    for r in rows:
        print(
            f"{r.workload:36s} {r.batch:5d} {r.transformers.rate_text(r.batch):>22s} "
            f"{r.vlkit.rate_text(r.batch):>22s} {ratio_text(r.transformers, r.vlkit):>7s}  {r.same}"
        )


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("base", "tiny"), default="base", help="tiny: a seconds-long smoke run")
    parser.add_argument("--caption-batches", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--batch", type=int, default=8, help="batch of the ITM and image-feature workloads")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per workload (the median is reported)")
    parser.add_argument("--image-size", type=int, default=None, help="default: 384 (base), 64 (tiny)")
    parser.add_argument("--max-length", type=int, default=20)
    parser.add_argument("--min-length", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument(
        "--allocator",
        choices=("system", "reuse", "both"),
        default="both",
        help="CPU malloc for BOTH models' pass (vlkit/common/cpu_allocator.py); both: a system pass, then a reuse pass",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.image_size = args.image_size or (384 if args.size == "base" else 64)
    print_header(
        "bench_inference: vlkit vs transformers BLIP, same weights",
        size=args.size,
        image_size=args.image_size,
        repeats=args.repeats,
        dtype="float32",
        allocator=args.allocator,
    )
    hf_cap, cap = build_caption_pair(args.size, args.image_size)
    hf_ret, itm = build_itm_pair(args.size, args.image_size)
    torch.manual_seed(1)
    largest = max([args.batch, *args.caption_batches])
    pool = torch.randn(largest, 3, args.image_size, args.image_size)
    models = (hf_cap, cap, hf_ret, itm)
    passes = {}
    for allocator in ("system", "reuse") if args.allocator == "both" else (args.allocator,):
        if allocator == "reuse":  # cannot be undone in a process: the reuse pass comes last
            configure_cpu_allocator("reuse", "--allocator")
        passes[allocator] = measure(args, models, pool)
        print_rows(f"both models with the {allocator} allocator", passes[allocator], args.repeats)
    if len(passes) == 2:
        print("\nas each library runs by default: transformers with the system allocator, vlkit with reuse")
        print(f"{'workload':36s} {'batch':>5s} {'ratio':>7s}")
        for base, tuned in zip(passes["system"], passes["reuse"]):
            print(f"{base.workload:36s} {base.batch:5d} {ratio_text(base.transformers, tuned.vlkit):>7s}")


if __name__ == "__main__":
    main()

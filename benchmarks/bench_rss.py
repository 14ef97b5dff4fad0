"""Memory under load: the resident memory (RSS) of a long streaming run must stay flat.

Two real vlkit code paths run over webdataset shards of the synthetic world's noisy web pool (written by
``generate_world(tasks=["web"])``, the code behind ``vlkit data synth``):

- ``loader``: the training loader (the ``shapes_web_wds`` webdataset builder, its train processors and
  the runner's ``TrainBatches`` DataLoader with ``--workers`` worker processes) for at least
  ``--loader-samples`` samples, as whole passes over the shards (workers are re-spawned each pass, as in
  training). RSS of the main process and the sum over its DataLoader workers is read every ``--every``
  batches.
- ``capfilt``: the CapFilt job (``build_models`` + ``CapFiltJob``, i.e. ``run_capfilt`` with a counter on the
  image transform) with the tiny captioner and ITM filter at random weights (memory does not depend on
  their quality) over every web image; RSS is read every ``--interval`` seconds from a thread.

For each part and process group (main, DataLoader workers, both) it prints RSS after warm-up (the first
``--warmup`` fraction of samples), at the end, the peak, and the slope in MiB per 10k samples of the
post-warm-up readings (their high-water mark in each hundredth of the run): the robust Theil-Sen slope,
which the verdict uses (``flat`` when |slope| < ``--threshold``, else ``GROWS``/``SHRINKS``), and the
least-squares one. CapFilt also reports what its final merge holds. Linux only (reads ``/proc``).

Usage: OMP_NUM_THREADS=1 nice -n 19 python benchmarks/bench_rss.py [--web-images 20000]
       [--loader-samples 100000] [--workers 2] [--work-dir DIR] [--parts loader capfilt] [--trace FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # one thread, set before torch loads; never on import (the tests import this file,
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # and the variable would then hold every later test to one thread)

from _common import print_header, rss_mib  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

MIB = 1024.0


# -- reading memory --------------------------------------------------------------------------------------------
def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (DataLoader workers), from ``/proc/<pid>/task/*/children``."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return sorted(set(out))


@dataclass
class RssTrace:
    """RSS readings (MiB) against the number of samples streamed so far."""

    samples: list[int] = field(default_factory=list)
    main: list[float] = field(default_factory=list)
    workers: list[float] = field(default_factory=list)

    def read(self, samples: int, pid: int | None = None) -> None:
        """Record the RSS of ``pid`` (default: this process) and the sum over its children."""
        pid = os.getpid() if pid is None else pid
        self.samples.append(samples)
        self.main.append(rss_mib(pid) or 0.0)
        self.workers.append(sum(rss_mib(c) or 0.0 for c in child_pids(pid)))  # a worker may just have exited

    def series(self) -> dict[str, list[float]]:
        out = {"main": self.main}
        if any(self.workers):
            out["workers"] = self.workers
            out["total"] = [m + w for m, w in zip(self.main, self.workers)]
        return out


def slope_per_10k(xs: list[int], ys: list[float]) -> float:
    """Least-squares slope of ``ys`` against ``xs``, in units of y per 10,000 x (0 for fewer than 2 points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0
    return 10_000 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def robust_slope_per_10k(xs: list[int], ys: list[float]) -> float:
    """Theil-Sen slope (the median of the slopes between all pairs of readings), per 10,000 x.

    RSS moves in steps of whole allocator blocks (a CapFilt batch's 7.5 MiB logits tensor is kept or returned
    to the OS), and a least-squares line through a few steps tilts by MiB; the median of pairwise slopes does
    not, yet follows a steady leak exactly.
    """
    slopes = sorted(
        (yb - ya) / (xb - xa)
        for i, (xa, ya) in enumerate(zip(xs, ys))
        for xb, yb in zip(xs[i + 1 :], ys[i + 1 :])
        if xb != xa
    )
    if not slopes:
        return 0.0
    mid = len(slopes) // 2
    return 10_000 * (slopes[mid] if len(slopes) % 2 else (slopes[mid - 1] + slopes[mid]) / 2)


@dataclass
class RssSummary:
    """One series after warm-up: RSS at start and end, peak over the whole run, slopes and verdict.

    The verdict is ``flat`` when the robust slope is within the threshold, else ``GROWS`` (or ``SHRINKS``).
    """

    start_mib: float
    end_mib: float
    peak_mib: float
    slope_mib_per_10k: float
    least_squares_mib_per_10k: float
    readings: int
    flat: bool

    @property
    def verdict(self) -> str:
        return "flat" if self.flat else "GROWS" if self.slope_mib_per_10k > 0 else "SHRINKS"


def high_water(xs: list[int], ys: list[float], window: int) -> tuple[list[int], list[float]]:
    """The highest reading in each window of ``window`` samples (``xs`` ascending), at its sample count.

    A thread reading a CapFilt batch sees RSS swing by the batch's working set (tens of MiB, allocated
    and returned to the OS step by step) and catches it at a random point of the swing; the high-water mark
    of a few batches is what a leak lifts, and it does not depend on when the reading came.
    """
    out_x: list[int] = []
    out_y: list[float] = []
    last = None
    for x, y in zip(xs, ys):
        if out_x and x // window == last:
            if y > out_y[-1]:
                out_x[-1], out_y[-1] = x, y
        else:
            out_x.append(x)
            out_y.append(y)
            last = x // window
    return out_x, out_y


def summarize(
    trace: RssTrace, total: int, warmup: float, threshold: float, windows: int = 100
) -> dict[str, RssSummary]:
    """Per series (``main``, and ``workers``/``total`` when there were children): the post-warm-up summary.

    Readings taken before ``warmup * total`` samples count only towards the peak; the rest are reduced to
    their :func:`high_water` mark in each of ``windows`` equal windows of the run, which start, end and the
    slopes are taken from.
    """
    keep = [i for i, s in enumerate(trace.samples) if s >= warmup * total]
    window = max(1, total // windows)
    out = {}
    for name, ys in trace.series().items():
        xs, post = high_water([trace.samples[i] for i in keep], [ys[i] for i in keep], window)
        if len(xs) < 2:
            raise ValueError(f"RSS was read in {len(xs)} windows after warm-up: read more often (--every/--interval)")
        slope = robust_slope_per_10k(xs, post)
        least_squares = slope_per_10k(xs, post)
        out[name] = RssSummary(post[0], post[-1], max(ys), slope, least_squares, len(xs), abs(slope) < threshold)
    return out


@dataclass
class PartResult:
    """What one part streamed (records read = kept + skipped) and its RSS trace."""

    name: str
    read: int
    kept: int
    skipped: int
    seconds: float
    trace: RssTrace
    extra: dict[str, Any] = field(default_factory=dict)
    judged: int | None = None  # readings that belong to the streaming (the first ones); None: all

    def streaming_trace(self) -> RssTrace:
        t, n = self.trace, len(self.trace.samples) if self.judged is None else self.judged
        return RssTrace(t.samples[:n], t.main[:n], t.workers[:n])


# -- inputs ------------------------------------------------------------------------------------------------------
def make_web_shards(work_dir: Path, num_images: int, image_size: int, shard_size: int, seed: int = 0) -> Path:
    """The synthetic world's noisy web pool (images, json list, labels and tar shards); returns ``<world>/web``.

    An identical world already under ``work_dir`` is reused.
    """
    from vlkit.data.synthetic import generate_world

    world = generate_world(
        work_dir / "world",
        num_web_images=num_images,
        image_size=image_size,
        shard_size=shard_size,
        seed=seed,
        tasks=["web"],
        progress=False,
    )
    return world.root / "web"


# -- part A: the training loader --------------------------------------------------------------------------------
def measure_loader(
    web_root: Path, num_samples: int, workers: int, batch_size: int = 64, every: int = 20, seed: int = 0
) -> PartResult:
    """Stream whole passes over the shards until ``num_samples`` records were read, reading RSS every
    ``every`` batches (and once before the first batch)."""
    from vlkit.data.builders import load_dataset
    from vlkit.runners.sampling import TrainBatches

    dataset = load_dataset("shapes_web_wds", **{"build_info.root": str(web_root)})["train"]
    records = _records_in_world(web_root)
    passes = max(1, math.ceil(num_samples / records))
    batches = TrainBatches(dataset, batch_size, seed, workers)
    trace = RssTrace()
    kept = skipped = step = 0
    start = time.perf_counter()
    trace.read(0)
    for epoch in range(passes):
        for batch in batches.epoch(epoch):
            kept += len(batch.get("text_input", []))
            skipped += int(batch["num_skipped"])
            step += 1
            if step % every == 0:
                trace.read(kept + skipped)
    seconds = time.perf_counter() - start
    return PartResult("loader", records * passes, kept, skipped, seconds, trace, {"passes": passes})


def _records_in_world(web_root: Path) -> int:
    from vlkit.data.synthetic.world import read_world

    world = read_world(web_root.parent)
    if world is None:
        raise FileNotFoundError(f"{web_root.parent} is not a complete synthetic world (no WORLD.json)")
    return int(world["counts"]["web"]["web_images"])


# -- part B: CapFilt --------------------------------------------------------------------------------------------
class _Counted:
    """Wraps a function and counts its calls (read from the sampling thread)."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn, self.calls = fn, 0

    def __call__(self, arg: Any) -> Any:
        self.calls += 1
        return self.fn(arg)


class _Sampler(threading.Thread):
    """Reads RSS every ``interval`` seconds against ``count()`` until stopped."""

    def __init__(self, trace: RssTrace, count: Callable[[], int], interval: float) -> None:
        super().__init__(daemon=True)
        self.trace, self.count, self.interval = trace, count, interval
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.trace.read(self.count())


def capfilt_config(web_root: Path, out_dir: Path, image_size: int, batch_size: int) -> Any:
    """A CapFilt job over the world's web shards with the tiny captioner and ITM filter (random weights)."""
    from vlkit.capfilt.config import CapFiltConfig, ModelRef, WebDataConfig, capfilt_decoding

    size = {"image_size": image_size}
    return CapFiltConfig(
        captioner=ModelRef("blip_caption", "tiny", overrides=size),
        filter=ModelRef("blip_image_text_matching", "tiny", overrides=size),
        data=WebDataConfig(
            format="wds",
            shards=str(web_root / "shards" / "web-*.tar"),
            noise_labels=str(web_root / "noise_labels.json"),
        ),
        decoding=capfilt_decoding(max_length=20, min_length=5),
        num_captions=1,
        itm_threshold=0.5,
        batch_size=batch_size,
        output_dir=str(out_dir),
        output_formats=["wds"],
        device="cpu",
        progress="off",
    )


def measure_capfilt(
    web_root: Path, out_dir: Path, image_size: int = 64, batch_size: int = 64, interval: float = 0.5
) -> PartResult:
    """Run CapFilt over every web shard (from scratch: ``out_dir`` is emptied), reading RSS from a thread.

    The readings after the last image was read belong to the merge (``merge_shard_results``): they are not
    judged with the streaming ones; ``extra['merge_peak_mib']`` gives their peak, and
    ``extra['merge_python_peak_mib']`` what the merge itself holds (:func:`merge_python_peak_mib`).
    """
    import torch

    from vlkit.capfilt.job import CapFiltJob
    from vlkit.capfilt.models import build_models

    shutil.rmtree(out_dir, ignore_errors=True)  # finished shards of an earlier run would be skipped
    torch.manual_seed(0)
    cfg = capfilt_config(web_root, out_dir, image_size, batch_size)
    caption_fn, match_fn, transform = build_models(cfg)
    counted = _Counted(transform)
    trace = RssTrace()
    sampler = _Sampler(trace, lambda: counted.calls, interval)
    start = time.perf_counter()
    trace.read(0)
    sampler.start()
    report = CapFiltJob(cfg, caption_fn, match_fn, counted).run()
    sampler.stopped.set()
    sampler.join()
    trace.read(counted.calls)
    seconds = time.perf_counter() - start
    counts = report["counts"]
    merge_python = merge_python_peak_mib(cfg, out_dir)
    read = _records_in_world(web_root)
    streaming = 1 + max((i for i, s in enumerate(trace.samples) if s < read), default=0)
    merge_peak = max(trace.main[streaming:], default=0.0)
    return PartResult(
        "capfilt",
        read,
        counts["images"],
        counts["images_skipped"],
        seconds,
        trace,
        judged=streaming,
        extra={
            "merge_peak_mib": merge_peak,
            "merge_python_peak_mib": merge_python,
            "texts_kept": counts["web_kept"] + counts["synthetic_kept"],
        },
    )


def merge_python_peak_mib(cfg: Any, out_dir: Path) -> float:
    """Peak Python memory (tracemalloc, MiB) of merging the finished job's shard results again, into a scratch
    directory: what the merge itself holds, which must not grow with the number of web images."""
    import dataclasses
    import tracemalloc

    from vlkit.capfilt.outputs import ShardResultFiles, merge_shard_results

    scratch = out_dir / "merge_again"
    results = ShardResultFiles(sorted((out_dir / "work").glob("[0-9]*.json")))
    tracemalloc.start()
    try:
        merge_shard_results(dataclasses.replace(cfg, output_dir=str(scratch)), results, scratch, 0.5)
        return tracemalloc.get_traced_memory()[1] / MIB / MIB
    finally:
        tracemalloc.stop()
        shutil.rmtree(scratch, ignore_errors=True)


# -- report ------------------------------------------------------------------------------------------------------
def describe(result: PartResult, warmup: float, threshold: float) -> list[str]:
    """The lines printed for one part."""
    lines = [
        f"[{result.name}] read {result.read} = kept {result.kept} + skipped {result.skipped}"
        f" in {result.seconds:.0f} s ({len(result.trace.samples)} RSS readings"
        + "".join(f", {k} {v:.1f}" if isinstance(v, float) else f", {k} {v}" for k, v in result.extra.items())
        + ")"
    ]
    for name, s in summarize(result.streaming_trace(), result.read, warmup, threshold).items():
        lines.append(
            f"[{result.name}] {name:<7} RSS start {s.start_mib:8.1f} MiB  end {s.end_mib:8.1f} MiB  "
            f"peak {s.peak_mib:8.1f} MiB  slope {s.slope_mib_per_10k:+7.3f} MiB/10k samples "
            f"(least squares {s.least_squares_mib_per_10k:+7.3f})  -> {s.verdict}"
        )
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web-images", type=int, default=20_000, help="web images written (CapFilt reads all)")
    parser.add_argument("--loader-samples", type=int, default=100_000, help="samples the loader streams at least")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes of the loader")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64, help="side of the web images and the models' input")
    parser.add_argument("--shard-size", type=int, default=200, help="web samples per tar shard")
    parser.add_argument("--every", type=int, default=20, help="loader: read RSS every N batches")
    parser.add_argument("--interval", type=float, default=0.5, help="capfilt: read RSS every N seconds")
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of samples before RSS is judged")
    parser.add_argument("--threshold", type=float, default=1.0, help="flat: |slope| below this, MiB per 10k samples")
    parser.add_argument("--parts", nargs="+", choices=("loader", "capfilt"), default=["loader", "capfilt"])
    parser.add_argument("--work-dir", default=None, help="where the world and outputs go (default: a temp dir)")
    parser.add_argument("--trace", default=None, help="also write every RSS reading to this json file")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    print_header(
        "RSS of long streaming runs (memory, not timings: a shared machine changes the time, not the slope)",
        **{k: v for k, v in vars(args).items() if k not in ("work_dir", "trace")},
    )
    for line in run_parts(args):
        print(line, flush=True)


def run_parts(args: argparse.Namespace) -> Iterator[str]:
    """Write the inputs and run the chosen parts, yielding the report lines as they come."""
    tmp = None if args.work_dir else tempfile.TemporaryDirectory(prefix="vlkit-bench-rss-")
    work = Path(args.work_dir or tmp.name)  # type: ignore[union-attr]
    try:
        start = time.perf_counter()
        web = make_web_shards(work, args.web_images, args.image_size, args.shard_size)
        seconds = time.perf_counter() - start
        yield f"web pool: {args.web_images} images at {args.image_size} px in {web} ({seconds:.0f} s)"
        yield f"flat = |slope| < {args.threshold} MiB per 10k samples after the first {args.warmup:.0%} of samples"
        traces: dict[str, dict[str, list]] = {}
        for part in ("loader", "capfilt"):
            if part not in args.parts:
                continue
            if part == "loader":
                result = measure_loader(web, args.loader_samples, args.workers, args.batch_size, args.every)
            else:
                result = measure_capfilt(web, work / "capfilt", args.image_size, args.batch_size, args.interval)
            yield from describe(result, args.warmup, args.threshold)
            traces[part] = asdict(result.trace)
            if args.trace:
                Path(args.trace).write_text(json.dumps(traces), encoding="utf-8")
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()

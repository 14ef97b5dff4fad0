"""Helpers shared by the benchmark scripts: repeated timings (median, min, max), the run header, peak memory of a
process, one-configuration subprocesses, captions of the synthetic world and the COCO-5k retrieval extrapolation.

The scripts run as ``python benchmarks/<script>.py``, so ``benchmarks/`` is on ``sys.path`` and they import this
module as ``_common``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

QUIET_REMINDER = "measure on a quiet machine: figures taken while other jobs run are not comparable"
RESULT_TAG = "BENCH_RESULT "  # prefix of the JSON line a one-configuration subprocess prints


@dataclass(frozen=True)
class Timing:
    """Seconds of repeated runs of one workload."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def per(self, items: int) -> Timing:
        """The timing of one of the ``items`` each repeat ran (e.g. per step of a repeat of several steps)."""
        return Timing(tuple(s / items for s in self.seconds))

    def rate(self, items: float) -> tuple[float, float, float]:
        """``items`` per second: ``(median, min, max)`` over the repeats."""
        rates = [items / s for s in self.seconds]
        return items / self.median, min(rates), max(rates)

    def rate_text(self, items: float, digits: int = 2) -> str:
        """``"median (min-max)"`` of ``items`` per second."""
        med, lo, hi = self.rate(items)
        return f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"

    def seconds_text(self, digits: int = 3) -> str:
        """``"median s (min-max)"``."""
        return f"{self.median:.{digits}f} s ({min(self.seconds):.{digits}f}-{max(self.seconds):.{digits}f})"


def sync(device: torch.device | str) -> None:
    """Wait for queued CUDA work so a timer sees it (no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_repeats(
    fn: Callable[[], object], repeats: int, warmup: int = 1, device: torch.device | str = "cpu"
) -> tuple[Timing, object]:
    """Run ``fn`` ``warmup`` times untimed, then ``repeats`` timed times; returns the timing and the last output."""
    if repeats < 1:
        raise ValueError(f"--repeats must be >= 1, got {repeats}")
    out = None
    for _ in range(warmup):
        out = fn()
    sync(device)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        sync(device)
        seconds.append(time.perf_counter() - start)
    return Timing(tuple(seconds)), out


def time_pair(
    baseline: Callable[[], object],
    candidate: Callable[[], object],
    repeats: int,
    warmup: int = 1,
    device: torch.device | str = "cpu",
) -> tuple[tuple[Timing, object], tuple[Timing, object]]:
    """Time two workloads with their repeats interleaved (baseline, candidate, baseline, ...), so that a change in
    machine load during the run falls on both; returns ``((baseline timing, output), (candidate timing, output))``.
    """
    outs: list[object] = [None, None]
    times: list[list[float]] = [[], []]
    fns = (baseline, candidate)
    for i, fn in enumerate(fns):
        for _ in range(warmup):
            outs[i] = fn()
    sync(device)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            outs[i] = fn()
            sync(device)
            times[i].append(time.perf_counter() - start)
    return (Timing(tuple(times[0])), outs[0]), (Timing(tuple(times[1])), outs[1])


def hardware_name(device: torch.device | str = "cpu") -> str:
    """The card's name for CUDA, else the CPU model, with the core count."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores"


def print_header(title: str, device: torch.device | str = "cpu", **settings: object) -> None:
    """Date, library versions, threads, hardware, the run's settings and the quiet-machine reminder."""
    try:
        import transformers

        tf_version = transformers.__version__
    except ImportError:
        tf_version = "not installed"
    print(f"# {title}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"torch: {torch.__version__}  transformers: {tf_version}  python: {platform.python_version()}")
    print(f"threads: {torch.get_num_threads()}  device: {device}  hardware: {hardware_name(device)}")
    if settings:
        print("settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()))
    print(f"reminder: {QUIET_REMINDER}")
    sys.stdout.flush()


def ratio_text(baseline: Timing, candidate: Timing) -> str:
    """Speed of ``candidate`` relative to ``baseline``: the ratio of the medians."""
    return f"{baseline.median / candidate.median:.2f}x"


# -- memory ------------------------------------------------------------------------------------------------------
def _status_kib(field: str, pid: int | str = "self") -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mib(pid: int | str = "self") -> float | None:
    """The resident set size now (Linux ``VmRSS``) of this process or ``pid``, MiB; ``None`` where unavailable
    (or the process is gone)."""
    kib = _status_kib("VmRSS", pid)
    return None if kib is None else kib / 1024


def peak_rss_mib() -> float:
    """This process's resident-set high-water mark, MiB (``VmHWM``; else ``ru_maxrss``)."""
    kib = _status_kib("VmHWM")
    if kib is None:
        import resource

        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = maxrss // 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS, KiB on Linux
    return kib / 1024


def reset_peak_rss() -> bool:
    """Reset the high-water mark to the current RSS (Linux >= 4.0), so a later peak excludes model building.

    Returns whether it worked; where it did not, :func:`peak_rss_mib` is the whole process's peak.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
            f.write("5")
        return True
    except OSError:
        return False


# -- one configuration per subprocess ----------------------------------------------------------------------------
def emit_result(result: dict) -> None:
    """Print a subprocess's result as one tagged JSON line for :func:`run_config_subprocess`."""
    print(RESULT_TAG + json.dumps(result), flush=True)


def run_config_subprocess(script: str, args: Sequence[str], timeout_s: float | None = None) -> dict:
    """Run ``python script *args`` in a fresh process and return the dict it passed to :func:`emit_result`.

    Raises:
        RuntimeError: the process failed or printed no result (its stderr's tail is in the message).
    """
    cmd = [sys.executable, script, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    tail = (proc.stderr or proc.stdout)[-2000:]
    raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode} and no result:\n{tail}")


# -- inputs --------------------------------------------------------------------------------------------------------
def synthetic_captions(n: int, seed: int = 0, stream: str = "bench") -> list[str]:
    """``n`` human-style captions of random scenes of the synthetic world (realistic lengths and padding)."""
    from vlkit.data.synthetic.captions import clean_captions
    from vlkit.data.synthetic.scene import random_scene, rng_for

    out = []
    for i in range(n):
        rng = rng_for(seed, stream, i)
        out += clean_captions(random_scene(rng), rng, n=1)
    return out


# -- retrieval evaluation cost -------------------------------------------------------------------------------------
COCO5K_IMAGES, COCO5K_TEXTS, COCO5K_K = 5_000, 25_000, 256


def coco5k_extrapolation(
    per_pair_s: float, per_image_s: float, per_text_s: float, hardware: str, model: str, k: int = COCO5K_K
) -> str:
    """Expected time of a COCO-5k retrieval evaluation from measured unit costs (an EXTRAPOLATION, labelled so).

    The evaluation encodes every image and text once, then ITM re-ranks ``k`` candidates for every image
    (image-to-text) and every caption (text-to-image).
    """
    pairs = (COCO5K_IMAGES + COCO5K_TEXTS) * k
    itm, images, texts = pairs * per_pair_s, COCO5K_IMAGES * per_image_s, COCO5K_TEXTS * per_text_s
    total = itm + images + texts
    return (
        f"EXTRAPOLATION (not measured end to end): COCO-5k retrieval evaluation ({COCO5K_IMAGES:,} images x "
        f"{COCO5K_TEXTS:,} captions, k_test={k}) with {model} on {hardware}: ITM re-rank {pairs:,} pairs x "
        f"{per_pair_s * 1e3:.3f} ms = {_duration(itm)}; image encoding {_duration(images)}; text encoding "
        f"{_duration(texts)}; total ~ {_duration(total)}"
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"

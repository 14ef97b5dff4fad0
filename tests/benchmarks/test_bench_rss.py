"""benchmarks/bench_rss.py at a tiny size: both parts run the real code paths and report every field.

The slope is not asserted (a few batches say nothing about growth); the accounting is: kept + skipped = read.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc (Linux)")


def _load() -> ModuleType:
    if str(REPO / "benchmarks") not in sys.path:  # as when run as a script: it imports benchmarks/_common.py
        sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location("bench_rss", REPO / "benchmarks" / "bench_rss.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the script is being executed
    spec.loader.exec_module(module)
    return module


bench = _load()


def test_importing_the_script_leaves_the_thread_settings_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to set OMP_NUM_THREADS=1 on import: the whole suite then ran on one thread, ~1.6x slower."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    _load()
    assert "OMP_NUM_THREADS" not in __import__("os").environ


LINE = re.compile(
    r"^\[(loader|capfilt)\] (main|workers|total)\s+RSS start\s+[\d.]+ MiB  end\s+[\d.]+ MiB  peak\s+[\d.]+ MiB  "
    r"slope\s+[+-][\d.]+ MiB/10k samples \(least squares\s+[+-][\d.]+\)  -> (flat|GROWS|SHRINKS)$"
)
READ = re.compile(r"^\[(loader|capfilt)\] read (\d+) = kept (\d+) \+ skipped (\d+) in ")


def test_slope_and_high_water_marks() -> None:
    assert bench.slope_per_10k([0, 10_000, 20_000], [100.0, 102.0, 104.0]) == pytest.approx(2.0)
    assert bench.slope_per_10k([0, 5_000, 10_000], [50.0, 50.0, 50.0]) == 0.0
    xs, ys = [1, 2, 3, 6, 7, 11], [5.0, 7.0, 1.0, 2.0, 9.0, 4.0]
    assert bench.high_water(xs, ys, window=5) == ([2, 7, 11], [7.0, 9.0, 4.0])  # the highest in each window
    trace = bench.RssTrace([0, 10, 20, 30, 40], [900.0, 10.0, 11.0, 12.0, 13.0], [0.0] * 5)
    summary = bench.summarize(trace, total=40, warmup=0.25, threshold=1.0)["main"]
    assert (summary.start_mib, summary.end_mib, summary.peak_mib) == (10.0, 13.0, 900.0)  # warm-up: peak only
    assert summary.slope_mib_per_10k == pytest.approx(1000.0) and summary.verdict == "GROWS"
    assert summary.least_squares_mib_per_10k == pytest.approx(1000.0)
    # one allocator step in a flat run tilts a least-squares line, not the median of pairwise slopes
    steps = [988.0] * 10 + [995.5] + [988.0] * 9
    assert bench.robust_slope_per_10k(list(range(0, 20_000, 1000)), steps) == 0.0
    assert abs(bench.slope_per_10k(list(range(0, 20_000, 1000)), steps)) > 0.01
    assert bench.robust_slope_per_10k([0, 1, 2, 3], [0.0, -1.0, -2.0, -3.0]) == pytest.approx(-10_000)


def test_rss_of_this_process_and_its_children() -> None:
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "import time; x = bytearray(64 << 20); time.sleep(30)"])
    try:
        trace = bench.RssTrace()
        for _ in range(100):  # until the child has touched its 64 MiB
            trace.read(0)
            if trace.workers[-1] > 60:
                break
            __import__("time").sleep(0.05)
        assert child.pid in bench.child_pids(__import__("os").getpid())
        assert trace.main[-1] > 10 and trace.workers[-1] > 60
    finally:
        child.kill()
        child.wait()


def test_both_parts_at_a_tiny_size(tmp_path: Path) -> None:
    args = bench.build_parser().parse_args(
        [
            "--web-images", "24", "--loader-samples", "60", "--workers", "2", "--batch-size", "8",
            "--image-size", "32", "--shard-size", "6", "--every", "1", "--interval", "0.02",
            "--work-dir", str(tmp_path), "--trace", str(tmp_path / "trace.json"),
        ]
    )  # fmt: skip
    lines = list(bench.run_parts(args))
    reads = {m.group(1): [int(g) for g in m.groups()[1:]] for m in map(READ.match, lines) if m}
    assert reads["loader"] == [72, 72, 0]  # 3 whole passes over 24 records for at least 60 samples
    assert reads["capfilt"] == [24, 24, 0]
    judged = [m.groups()[:2] for m in map(LINE.match, lines) if m]
    assert judged == [("loader", "main"), ("loader", "workers"), ("loader", "total"), ("capfilt", "main")], lines
    traces = json.loads((tmp_path / "trace.json").read_text())
    assert len(traces["loader"]["samples"]) == len(traces["loader"]["workers"]) > 2
    assert max(traces["loader"]["workers"]) > 0  # the DataLoader workers were found and read
    assert (tmp_path / "capfilt" / "report.json").is_file()
    assert re.search(r"merge_python_peak_mib \d+\.\d", "\n".join(lines)), lines

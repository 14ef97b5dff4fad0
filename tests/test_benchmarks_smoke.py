"""The benchmark scripts run end to end in their tiny modes and print what docs/benchmarks.md relies on.

The four scripts run side by side as subprocesses (the way they are used: ``python benchmarks/<script>.py``),
tiny models on CPU. Timings are not checked, only that each run completes, prints its fields and that the
equivalence checks agree (same captions, same ITM scores, same loss, same retrieval metrics).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RATE = r"\d+\.\d+ \(\d+\.\d+-\d+\.\d+\)"  # median (min-max)
HEADER = ("date: ", "torch: ", "transformers: ", "threads: ", "reminder: measure on a quiet machine")
SCRIPTS = {
    "gpu_check": ["--device", "cpu", "--size", "tiny", "--budget-s", "240"],
    "bench_inference": ["--size", "tiny"],
    # one process per arm: the arms without checkpointing (vlkit) or for reference only (transformers+ckpt) are
    # left out to keep the test short; --arms selects arms in any run
    "bench_train_step": ["--size", "tiny", "--arms", "transformers", "vlkit+ckpt", "vlkit-pretrain"],
    "bench_retrieval_eval": ["--size", "tiny"],
}


@pytest.fixture(scope="module")
def outputs() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.setdefault("OMP_NUM_THREADS", "1")
    procs = {
        name: subprocess.Popen(
            [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, args in SCRIPTS.items()
    }
    out = {}
    for name, proc in procs.items():
        try:
            text, _ = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            for other in procs.values():
                other.kill()
            raise
        assert proc.returncode == 0, f"{name} failed:\n{text[-4000:]}"
        out[name] = text
    return out


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_every_script_prints_the_run_header(outputs: dict[str, str], name: str) -> None:
    for field in HEADER:
        assert field in outputs[name], f"{name} did not print {field!r}"


def test_bench_inference_rows_agree_with_transformers(outputs: dict[str, str]) -> None:
    text = outputs["bench_inference"]
    for batch in (4, 8):
        assert re.search(rf"caption generation .* {batch} +{RATE} +{RATE} +\d+\.\d+x +{batch}/{batch} captions", text)
    assert re.search(rf"ITM scoring +8 +{RATE} +{RATE} +\d+\.\d+x +yes", text)
    assert re.search(rf"image features +8 +{RATE} +{RATE} +\d+\.\d+x +yes", text)


def test_bench_train_step_reports_speed_memory_and_equal_losses(outputs: dict[str, str]) -> None:
    text = outputs["bench_train_step"]
    for arm in ("transformers", "vlkit+ckpt", "vlkit-pretrain"):
        assert re.search(rf"^{re.escape(arm)} +\d+\.\d+ \(\d+\.\d+-\d+\.\d+\) +\d+\.\d+ +\d+ +\d+ ", text, re.M), arm
    assert re.search(r"^vlkit\+ckpt vs transformers: speed \d+\.\d+x .*peak memory \d+\.\d+x", text, re.M)
    assert "same loss as transformers (vlkit+ckpt, eval mode, first batch): yes" in text


def test_bench_retrieval_eval_batched_and_row_by_row_agree(outputs: dict[str, str]) -> None:
    text = outputs["bench_retrieval_eval"]
    assert re.search(r"BLIP's loop \(.*\): \d+\.\d+ s \(", text)
    assert re.search(r"vlkit \(itm_pairs_per_call=\d+; .*\): \d+\.\d+ s \(", text)
    assert re.search(r"speed-up \(ratio of medians\): \d+\.\d+x", text)
    assert "metrics identical: yes" in text
    assert re.search(r"EXTRAPOLATION .*COCO-5k .*k_test=256.* on .*total ~ \d", text)


def test_gpu_check_runs_every_section_on_cpu(outputs: dict[str, str]) -> None:
    text = outputs["gpu_check"]
    for section in "abc":
        assert re.search(rf"^section {section} \(.*\): ok", text, re.M), section
    assert re.search(r"steps/s \d+\.\d+ .*FLOPs/step \d", text)
    assert "MFU: n/a" in text  # a CPU has no peak in the table and no --peak-tflops was given
    assert re.search(r"same captions 2/2", text)
    assert re.search(r"ITM scoring, batch 4, .* ratio \d+\.\d+x", text)
    assert re.search(r"CPU kept fed: (yes|NO)", text)

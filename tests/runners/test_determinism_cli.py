"""Reproducible by default, tested as users run: the real CLI, default threads, BLIP pre-training, SIGKILL.

At more than one thread the backward of ``x[idx]`` with repeated indices (BLIP's hard-negative images)
adds gradient rows atomically on CPU, in a different order each run; runs then drifted by ~2e-5 within a
few dozen steps. These tests fail if that (or anything like it) comes back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runners.conftest import REPO_ROOT, final_weights, max_abs_diff, read_log
from vlkit.runners.checkpointing import step_checkpoints

STEPS = 8  # 2 epochs x 4 updates


def user_env() -> dict[str, str]:
    """The environment a user has: no thread limit (torch takes every core; at least 2, to test threading)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if (os.cpu_count() or 1) < 2:
        env["OMP_NUM_THREADS"] = "2"
    return env


def train_command(out: Path, name: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "vlkit", "train",
        "--cfg-path", str(REPO_ROOT / "projects/blip/train/shapes_pretrain.yaml"),
        "--options", f"run.output_dir={out}", f"run.job_name={name}", "run.max_epoch=2", "run.batch_size_train=8",
        "datasets.shapes_coco_caption.max_samples=16", "datasets.shapes_web.max_samples=16",
        "run.save_every_n_steps=2", "run.keep_last_n=0", "run.progress=off",
        "run.warmup_steps=2", "run.log_freq=1", *extra,
    ]  # fmt: skip


@pytest.mark.slow
def test_blip_pretraining_killed_and_resumed_is_bit_identical_to_an_uninterrupted_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    straight = subprocess.run(train_command(out, "straight"), env=user_env(), capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr[-3000:]
    assert [s for s, _ in step_checkpoints(out / "straight" / "checkpoints")][-1] == STEPS

    cmd = train_command(out, "killed")
    proc = subprocess.Popen(cmd, env=user_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ckpt_dir, deadline = out / "killed" / "checkpoints", time.monotonic() + 300
    try:
        while not step_checkpoints(ckpt_dir):  # kill hard right after the first checkpoint (step 2)
            assert proc.poll() is None, f"training ended early: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 300 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert max(step for step, _ in step_checkpoints(ckpt_dir)) < STEPS  # it really was interrupted

    resumed = subprocess.run([*cmd, "run.resume_ckpt_path=auto"], env=user_env(), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert max_abs_diff(final_weights(out / "straight"), final_weights(out / "killed")) == 0.0
    steps = [r["step"] for r in read_log(out / "killed") if r["type"] == "train"]
    assert set(range(1, STEPS + 1)) <= set(steps)  # the log covers the whole run

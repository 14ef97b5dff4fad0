"""Training checkpoints: atomic writes, finding the latest complete one, RNG state capture.

A checkpoint is a ``torch.save``'d dict of tensors and plain Python types only, so it loads with
``torch.load(path, weights_only=True)``. It holds everything exact resume needs: the whole model
state dict (frozen parameters and buffers included), optimiser, LR schedule, grad scaler, every
rank's RNG states, and the training position (epoch, global step, batches consumed in the epoch).

Files are ``<job>/checkpoints/checkpoint_step<global_step>.pth`` (+ ``checkpoint_best.pth``). Each is
written to a temporary file in the same directory, flushed to disk and renamed over the final name,
so a crash mid-write never leaves a truncated checkpoint, and older checkpoints are only pruned once
the new one is complete.
"""

from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

logger = logging.getLogger(__name__)

CHECKPOINT_DIRNAME = "checkpoints"
BEST_NAME = "checkpoint_best.pth"
_STEP_RE = re.compile(r"^checkpoint_step(\d+)\.pth$")


def atomic_save(obj: dict[str, Any], path: str | Path) -> Path:
    """``torch.save`` to a temp file next to ``path``, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint on CPU with ``weights_only=True``."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


def step_checkpoints(ckpt_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete step checkpoints in ``ckpt_dir`` as ``(global_step, path)``, oldest first (temp files ignored)."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return []
    found = []
    for p in ckpt_dir.iterdir():
        m = _STEP_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The step checkpoint with the highest global step, or None."""
    found = step_checkpoints(ckpt_dir)
    return found[-1][1] if found else None


def latest_job_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest (by modification time) latest step checkpoint among the job directories in ``output_dir``."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    found = [
        (p.stat().st_mtime, p) for job in output_dir.iterdir() if (p := latest_checkpoint(job / CHECKPOINT_DIRNAME))
    ]
    return max(found)[1] if found else None


class CheckpointManager:
    """Writes and prunes the checkpoints of one job.

    Args:
        job_dir: The job's output directory (checkpoints go to ``job_dir/checkpoints``).
        keep_last_n: Step checkpoints to keep (the best one is kept separately); <= 0 keeps all.
    """

    def __init__(self, job_dir: str | Path, keep_last_n: int = 1) -> None:
        self.dir = Path(job_dir) / CHECKPOINT_DIRNAME
        self.keep_last_n = keep_last_n

    def save(self, state: dict[str, Any], global_step: int) -> Path:
        """Write ``checkpoint_step<global_step>.pth`` atomically, then prune older ones."""
        path = atomic_save(state, self.dir / f"checkpoint_step{global_step:09d}.pth")
        if self.keep_last_n > 0:
            for _, old in step_checkpoints(self.dir)[: -self.keep_last_n]:
                old.unlink(missing_ok=True)
        logger.info("saved checkpoint %s", path)
        return path

    def save_best(self, state: dict[str, Any]) -> Path:
        return atomic_save(state, self.dir / BEST_NAME)

    @property
    def best_path(self) -> Path:
        return self.dir / BEST_NAME

    def latest(self) -> Path | None:
        return latest_checkpoint(self.dir)


def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA RNG states as tensors and lists (``weights_only``-loadable)."""
    version, mt_state, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(mt_state), gauss],
        "numpy": [np_name, np_keys.tolist(), int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    version, mt_state, gauss = state["python"]
    random.setstate((version, tuple(mt_state), gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state((np_name, np.asarray(np_keys, dtype=np.uint32), np_pos, np_has_gauss, np_gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            logger.warning(
                "checkpoint has CUDA RNG states for %d devices, found %d; not restored",
                len(cuda_states),
                torch.cuda.device_count(),
            )

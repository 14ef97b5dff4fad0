"""Reusing freed CPU memory for large tensors: ``run.cpu_allocator``.

PyTorch allocates CPU tensors with the C library's ``malloc``. glibc serves every block above its mmap
threshold (dynamic, at most 32 MiB) with a fresh ``mmap`` and unmaps it on ``free``; each of its 4 KiB pages
then costs a page fault the next time a tensor of that size is written. A training step allocates and
frees the same large tensors every time (the logits over BERT's 30,524 words, the ViT's MLP activations,
gradients), so on a CPU a step can spend a sixth of its time in page faults: measured on a tiny BLIP
pre-training step (batch 32, one thread), 0.60 s per step with glibc's defaults, 0.50 s with freed memory
kept for reuse (``benchmarks/bench_train_step.py --allocator``).

``reuse`` (the default for CPU jobs) raises the mmap threshold and the trim threshold with ``mallopt``, so
blocks up to ``REUSE_MMAP_THRESHOLD`` come from the heap and freed ones are kept and reused instead of being
returned and faulted in again. What it changes: a process's resident memory stays at its high-water mark
after a large free (the peak itself does not grow; docs/benchmarks.md measures both). ``system`` leaves
malloc as it is. Only glibc (Linux) has these settings; elsewhere ``reuse`` logs and does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
from typing import Any

import torch

from vlkit.common.config import ConfigError

logger = logging.getLogger(__name__)

CPU_ALLOCATORS: tuple[str, ...] = ("reuse", "system")
REUSE_MMAP_THRESHOLD = 1 << 30  # blocks below 1 GiB come from the heap (the largest BLIP tensors are far below)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
_applied: str | None = None


def configure_cpu_allocator(setting: str, key: str = "run.cpu_allocator", device: Any = "cpu") -> bool:
    """Apply ``setting`` (``reuse`` | ``system``) to this process for a job on ``device``; returns whether malloc
    was tuned (only for CPU jobs: an accelerator's tensors do not come from malloc).

    Idempotent. ``system`` after ``reuse`` in one process cannot undo it (logged).

    Raises:
        ConfigError: for an unknown setting (on any device), naming ``key``.
    """
    global _applied
    if setting not in CPU_ALLOCATORS:
        raise ConfigError(f"{key} must be one of {', '.join(CPU_ALLOCATORS)}, got {setting!r}.")
    if torch.device(device).type != "cpu":
        return False
    if setting == "system":
        if _applied == "reuse":
            logger.info("%s=system: malloc was already tuned for reuse in this process; it stays so", key)
        return False
    if _applied == "reuse":
        return True
    libc = _glibc()
    if libc is None:
        logger.info("%s=reuse needs glibc (Linux); the system allocator is used", key)
        return False
    ok = libc.mallopt(_M_MMAP_THRESHOLD, REUSE_MMAP_THRESHOLD) == 1
    ok = libc.mallopt(_M_TRIM_THRESHOLD, REUSE_MMAP_THRESHOLD) == 1 and ok
    if ok:
        _applied = "reuse"
        logger.debug("malloc keeps freed blocks below %d MiB for reuse", REUSE_MMAP_THRESHOLD >> 20)
    else:
        logger.warning("%s=reuse: mallopt refused the thresholds; the system allocator is used", key)
    return ok


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None

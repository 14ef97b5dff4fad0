"""Bit-reproducible training: which kernels may run, per device, from ``run.deterministic``.

On CPU almost every kernel is deterministic at any thread count. The exception that matters for BLIP is
the backward of indexing with repeated indices (``x[idx]``, ``index_put_(..., accumulate=True)``): with
more than one thread PyTorch adds the gradient rows with atomic float additions, whose order varies
from run to run. ``torch.use_deterministic_algorithms`` switches such kernels to their ordered
implementations; on CPU that costs about 1 % (docs/training.md), so it is on by default there. On GPUs it also
constrains cuBLAS and cuDNN and can be slower, so it is opt-in (``run.deterministic: true``).
"""

from __future__ import annotations

import logging
import os

import torch

logger = logging.getLogger(__name__)

CUBLAS_WORKSPACE = ":4096:8"  # cuBLAS needs a fixed workspace to be deterministic (CUDA >= 10.2)


def resolve_deterministic(setting: bool | None, device: torch.device) -> bool:
    """``run.deterministic``: ``None`` (auto) means on for CPU, off for accelerators."""
    return device.type == "cpu" if setting is None else bool(setting)


def configure_determinism(setting: bool | None, device: torch.device) -> bool:
    """Apply ``run.deterministic`` for a job on ``device``; returns whether deterministic kernels are on.

    ``warn_only`` keeps an op without a deterministic implementation running (with PyTorch's warning
    naming it) rather than stopping a long job; the docs list what then still varies.
    """
    on = resolve_deterministic(setting, device)
    if on and device.type == "cuda":
        if os.environ.get("CUBLAS_WORKSPACE_CONFIG") not in (":4096:8", ":16:8"):
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE  # read when cuBLAS creates its handle
        torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = on and device.type == "cuda"
    torch.use_deterministic_algorithms(on, warn_only=True)
    logger.debug("deterministic kernels %s on %s", "on" if on else "off", device)
    return on

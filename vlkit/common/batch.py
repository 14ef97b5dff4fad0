"""Batches as the loaders produce them: nested dicts/lists of tensors and plain values."""

from __future__ import annotations

from typing import Any

import torch


def move_to_device(samples: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) batch to ``device``; other values are returned as they are."""
    if isinstance(samples, torch.Tensor):
        return samples.to(device, non_blocking=True)
    if isinstance(samples, dict):
        return {k: move_to_device(v, device) for k, v in samples.items()}
    if isinstance(samples, list | tuple):
        return type(samples)(move_to_device(v, device) for v in samples)
    return samples

"""Inference precision: the ``dtype=`` of :func:`vlkit.models.load_model` (bfloat16 / float16 / float32).

The weights are cast once after loading. Images are cast to the model's dtype by the image encoder;
decoding scores, softmaxes over the vocabulary and losses are computed in float32 (see
:mod:`vlkit.models.decoding`), and attention masks are built in the activations' dtype with that dtype's
most negative finite value, so nothing overflows to NaN in half precision. Training stays in float32
weights with ``run.amp`` autocast; half-precision weights are for inference.
"""

from __future__ import annotations

import functools
import logging

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

DTYPE_NAMES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}
SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


class UnsupportedDtypeError(ValueError):
    """A dtype vlkit does not run, or one the chosen device cannot compute in."""


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"bfloat16"``/``"bf16"``/``torch.bfloat16`` → ``torch.bfloat16`` (likewise float16 and float32).

    Raises:
        UnsupportedDtypeError: for an unknown name or a non-float dtype, listing the accepted ones.
    """
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    elif isinstance(dtype, str):
        resolved = DTYPE_NAMES.get(dtype.lower().removeprefix("torch."))
    else:
        resolved = None
    if resolved not in SUPPORTED_DTYPES:
        raise UnsupportedDtypeError(
            f"dtype={dtype!r} is not one vlkit runs models in; use one of {', '.join(sorted(DTYPE_NAMES))} or "
            f"torch.float32 / torch.bfloat16 / torch.float16."
        )
    return resolved


@functools.cache
def _probe(dtype: torch.dtype, device: str) -> str | None:
    """Run the kernels a BLIP forward needs (conv, matmul, LayerNorm, GELU, softmax, fused attention) in
    ``dtype`` on ``device``; the error text when one is missing, else ``None``."""
    try:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(2, 3, 8, 8, generator=gen).to(device=device, dtype=dtype)
        conv = nn.Conv2d(3, 8, 4, stride=4).to(device=device, dtype=dtype)
        h = conv(x).flatten(2).transpose(1, 2)  # [2, 4, 8]
        h = F.gelu(F.layer_norm(h, (8,)) @ torch.ones(8, 8, device=device, dtype=dtype))
        q = h.view(2, 4, 2, 4).transpose(1, 2)
        mask = torch.zeros(2, 1, 1, 4, device=device, dtype=dtype)
        h = F.scaled_dot_product_attention(q, q, q, attn_mask=mask).softmax(dim=-1)
        if not torch.isfinite(h.float()).all():
            return "the probe computation gave non-finite values"
    except (RuntimeError, NotImplementedError, TypeError) as err:
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return None


def check_device_dtype(dtype: torch.dtype, device: str | torch.device) -> None:
    """Raise when ``device`` cannot run a BLIP forward in ``dtype`` (tried once per device type and dtype).

    Raises:
        UnsupportedDtypeError: naming the dtype, the device and what to use instead.
    """
    if dtype == torch.float32:
        return
    device = torch.device(device)
    error = _probe(dtype, str(device))
    if error is not None:
        other = "bfloat16" if dtype == torch.float16 else "float16"
        raise UnsupportedDtypeError(
            f"dtype={str(dtype).removeprefix('torch.')} cannot run on device {device} ({error}). Use "
            f"dtype='float32', dtype='{other}' if the device supports it, or another device."
        )


def cast_for_inference(model: nn.Module, dtype: str | torch.dtype | None, device: str | torch.device) -> nn.Module:
    """Move ``model`` to ``device`` in ``dtype`` (``None`` keeps float32), after checking the device runs it.

    Raises:
        UnsupportedDtypeError: for an unknown dtype or one ``device`` cannot run.
    """
    if dtype is None:
        return model.to(device)
    resolved = resolve_dtype(dtype)
    check_device_dtype(resolved, device)
    if resolved != torch.float32 and model.training:
        logger.warning(
            "dtype=%s casts the weights for inference; to train in half precision keep float32 weights and set "
            "run.amp (autocast) instead.",
            resolved,
        )
    return model.to(device=device, dtype=resolved)

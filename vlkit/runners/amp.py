"""Mixed precision: autocast, loss scaling, gradient clipping and the optimiser update in one object."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from vlkit.common.config import ConfigError

AMP_MODES = ("none", "bf16", "fp16")


class MixedPrecision:
    """How one optimiser update is computed for ``run.amp``.

    ``bf16`` autocasts to bfloat16 (CPU or CUDA) without loss scaling; ``fp16`` autocasts to float16 and
    scales the loss with a :class:`torch.amp.GradScaler` (CUDA only); ``none`` is plain fp32.

    Args:
        mode: ``none`` | ``bf16`` | ``fp16``.
        device: The training device.

    Raises:
        ConfigError: for an unknown mode, fp16 off CUDA, or bf16 on a GPU without bf16 support.
    """

    def __init__(self, mode: str, device: torch.device) -> None:
        if mode not in AMP_MODES:
            raise ConfigError(f"run.amp={mode!r} is not one of {', '.join(AMP_MODES)}.")
        if mode == "fp16" and device.type != "cuda":
            raise ConfigError("run.amp=fp16 needs a CUDA device; use run.amp=bf16 (or none) on CPU.")
        if mode == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ConfigError("This GPU does not support bfloat16; set run.amp=fp16 (or none).")
        self.mode = mode
        self.device = device
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mode)
        self.scaler = torch.amp.GradScaler("cuda") if mode == "fp16" else None

    def autocast(self) -> contextlib.AbstractContextManager:
        """Context for the forward pass (a no-op for ``none``)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def step(self, optimizer: torch.optim.Optimizer, params: Iterable[torch.nn.Parameter], grad_clip: float) -> float:
        """Unscale, clip to ``grad_clip`` (0 = no clipping), update and zero the gradients.

        Returns:
            The total gradient norm before clipping (computed only when clipping, else ``nan``).
        """
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        norm = float("nan")
        if grad_clip > 0:
            norm = float(torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], grad_clip))
        if self.scaler is not None:
            self.scaler.step(optimizer)  # skips the update when the gradients overflowed
            self.scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return norm

    def state_dict(self) -> dict[str, Any]:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


@contextlib.contextmanager
def maybe_no_sync(model: torch.nn.Module, skip_sync: bool) -> Iterator[None]:
    """DDP's ``no_sync()`` for the non-final micro-batches of an accumulation group, else nothing."""
    if skip_sync and hasattr(model, "no_sync"):
        with model.no_sync():
            yield
    else:
        yield

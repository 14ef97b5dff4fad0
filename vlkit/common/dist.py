"""Distributed helpers that run the same code path with or without a process group.

Every function here is safe to call in a single process without ``torch.distributed`` being
initialised (LAVIS crashed at ``dist.barrier()`` in that case).
"""

from __future__ import annotations

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist

from vlkit.common.config import ConfigError


def is_dist_avail_and_initialized() -> bool:
    """True when a default process group exists."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_dist_avail_and_initialized() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_dist_avail_and_initialized() else 1


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    """A barrier across ranks; a no-op without a process group."""
    if is_dist_avail_and_initialized():
        dist.barrier()


def init_distributed_from_env(backend: str | None = None, timeout_minutes: int = 30) -> bool:
    """Initialise the default process group from torchrun's environment variables.

    Args:
        backend: ``nccl``/``gloo``; default nccl when CUDA is available, else gloo.
        timeout_minutes: collective timeout, so a dead rank fails the job instead of hanging forever.

    Returns:
        True when running distributed (``WORLD_SIZE`` > 1), False for a single process.
    """
    if is_dist_avail_and_initialized():
        return True
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return False
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=timeout_minutes))
    return True


@torch.no_grad()
def concat_all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0, without gradient."""
    if not is_dist_avail_and_initialized():
        return tensor
    out = [torch.empty_like(tensor) for _ in range(get_world_size())]
    dist.all_gather(out, tensor.contiguous())
    return torch.cat(out, dim=0)


class _GatherLayer(torch.autograd.Function):
    """all_gather whose backward routes each rank's slice of the gradient back to it."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(out, x.contiguous())
        return tuple(out)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> torch.Tensor:
        all_grads = torch.stack(grads)
        dist.all_reduce(all_grads)
        return all_grads[dist.get_rank()]


def all_gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor`` from all ranks along dim 0, keeping the autograd graph."""
    if not is_dist_avail_and_initialized():
        return tensor
    return torch.cat(_GatherLayer.apply(tensor), dim=0)


def all_gather_object(obj: Any) -> list[Any]:
    """Gather a picklable object from every rank (a one-element list without a process group)."""
    if not is_dist_avail_and_initialized():
        return [obj]
    out: list[Any] = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """In-place sum over ranks (identity without a process group)."""
    if is_dist_avail_and_initialized():
        dist.all_reduce(tensor)
    return tensor


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Broadcast a picklable object from ``src``."""
    if not is_dist_avail_and_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def interleave_gathered(per_rank: list[list[Any]]) -> list[Any]:
    """Per-rank result lists back into dataset order, when rank ``r`` evaluated items ``r, r + world, ...``.

    The inverse of the runners' sharded evaluation sampler (``ShardedEvalSampler``).
    """
    out: list[Any] = []
    for k in range(max((len(r) for r in per_rank), default=0)):
        out.extend(r[k] for r in per_rank if k < len(r))
    return out


def resolve_device(spec: str, key: str = "run.device") -> torch.device:
    """``auto`` (this rank's GPU if any, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; ``key`` names the setting.

    Used for ``run.device``, ``capfilt.device`` and ``vlkit predict --device``.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cuda":
        spec = f"cuda:{local_rank}"
    try:
        device = torch.device(spec)
    except RuntimeError as e:
        raise ConfigError(f"{key}={spec!r} is not a device; use auto, cpu, cuda or cuda:N.") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{key}={spec!r} but CUDA is not available on this machine; use cpu or auto.")
    return device

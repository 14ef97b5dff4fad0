"""Learning-rate schedules, registered by name for ``run.lr_sched``.

A schedule is a pure function of ``(epoch, global_step)``: the runner calls :meth:`LRSchedule.step`
before every optimiser update, and the learning rate follows from the position alone. That keeps
resume exact (the saved state is just the last position) and makes the values easy to test.

Every schedule warms up linearly over the first ``warmup_steps`` optimiser updates from ``warmup_lr``
to the value the schedule would otherwise have. Each parameter group's lr is the schedule's value
times the group's ``lr_scale`` (see :mod:`vlkit.runners.optim`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from omegaconf import DictConfig

from vlkit.common.config import ConfigError
from vlkit.common.registry import registry


class LRSchedule:
    """Base class: warm-up plus :meth:`base_lr`, applied to every parameter group.

    Args:
        optimizer: The optimiser whose groups are updated.
        init_lr: Peak learning rate.
        min_lr: Floor (cosine end point / step-decay floor).
        warmup_lr: Learning rate at step 0 of the warm-up.
        warmup_steps: Length of the linear warm-up in optimiser updates (0 = none).
        max_epoch: Number of (inner) epochs, used by the cosine schedule.
        decay_rate: Per-epoch decay factor of the step schedule.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        init_lr: float,
        min_lr: float = 0.0,
        warmup_lr: float = 1e-6,
        warmup_steps: int = 0,
        max_epoch: int = 1,
        decay_rate: float = 0.9,
    ) -> None:
        self.optimizer = optimizer
        self.init_lr = init_lr
        self.min_lr = min_lr
        self.warmup_lr = warmup_lr
        self.warmup_steps = warmup_steps
        self.max_epoch = max(1, max_epoch)
        self.decay_rate = decay_rate
        self.last_epoch = 0
        self.last_step = 0

    @classmethod
    def from_config(cls, optimizer: torch.optim.Optimizer, run_cfg: DictConfig, max_epoch: int) -> LRSchedule:
        """Build from ``run.init_lr``, ``min_lr``, ``warmup_lr``, ``warmup_steps`` and ``lr_decay_rate``."""
        return cls(optimizer, **cls.base_options(run_cfg, max_epoch))

    @staticmethod
    def base_options(run_cfg: DictConfig, max_epoch: int) -> dict[str, Any]:
        """The keyword arguments of :class:`LRSchedule` that every schedule reads from ``run``."""
        return {
            "init_lr": run_cfg.init_lr,
            "min_lr": run_cfg.min_lr,
            "warmup_lr": run_cfg.warmup_lr,
            "warmup_steps": run_cfg.warmup_steps,
            "max_epoch": max_epoch,
            "decay_rate": run_cfg.lr_decay_rate,
        }

    def base_lr(self, epoch: int) -> float:
        """The schedule's value for ``epoch`` once warm-up is over."""
        return self.init_lr

    def lr_at(self, epoch: int, global_step: int) -> float:
        """Learning rate for the update at ``global_step`` (0-based, counted over the whole run) in ``epoch``."""
        target = self.base_lr(epoch)
        if global_step < self.warmup_steps:
            return self.warmup_lr + (target - self.warmup_lr) * global_step / self.warmup_steps
        return target

    def step(self, epoch: int, global_step: int) -> float:
        """Set every group's lr for the coming update; returns the unscaled lr."""
        lr = self.lr_at(epoch, global_step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        self.last_epoch, self.last_step = epoch, global_step
        return lr

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "last_step": self.last_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the position and re-apply the lr it implies."""
        self.step(int(state["last_epoch"]), int(state["last_step"]))


@registry.register_lr_scheduler("constant_lr")
class ConstantLR(LRSchedule):
    """``init_lr`` after the warm-up."""


@registry.register_lr_scheduler("linear_warmup_cosine_lr")
class LinearWarmupCosineLR(LRSchedule):
    """Cosine from ``init_lr`` (epoch 0) towards ``min_lr`` (epoch ``max_epoch``), stepped per epoch as in BLIP."""

    def base_lr(self, epoch: int) -> float:
        return self.min_lr + (self.init_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * epoch / self.max_epoch))


@registry.register_lr_scheduler("warmup_stable_decay_lr")
class WarmupStableDecayLR(LRSchedule):
    """Per update: linear warm-up, ``init_lr``, then linear decay to ``min_lr`` over the last ``decay_fraction``.

    Needs the run's length in updates (``run.max_iters``, the iteration runner). The warm-up counts the update
    being made: update ``k`` (from 0) of the first ``warmup_steps`` gets ``(k + 1) / warmup_steps`` of the
    peak (``warmup_lr`` is not used), and update ``k`` of the decay ``(total - k) / decay_steps`` of it. The
    warm start's jobs use it (``vlkit/configs/warm_start/``); its hand-written loop had this schedule.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, total_steps: int, decay_fraction: float = 0.2, **kw: Any):
        super().__init__(optimizer, **kw)
        if total_steps < 1 or not 0.0 <= decay_fraction <= 1.0:
            raise ConfigError(
                "run.lr_sched=warmup_stable_decay_lr needs run.max_iters >= 1 (run.runner=runner_iter) and "
                f"run.lr_decay_fraction in [0, 1] (got {total_steps} and {decay_fraction})."
            )
        self.total_steps = total_steps
        self.decay_from = int((1.0 - decay_fraction) * total_steps)

    @classmethod
    def from_config(cls, optimizer: torch.optim.Optimizer, run_cfg: DictConfig, max_epoch: int) -> LRSchedule:
        """Build from ``run.max_iters`` and ``run.lr_decay_fraction`` besides the base keys."""
        return cls(
            optimizer,
            total_steps=run_cfg.max_iters,
            decay_fraction=run_cfg.lr_decay_fraction,
            **cls.base_options(run_cfg, max_epoch),
        )

    def lr_at(self, epoch: int, global_step: int) -> float:
        scale = min(1.0, (global_step + 1) / self.warmup_steps) if self.warmup_steps > 0 else 1.0
        if global_step >= self.decay_from:
            scale *= max(0, self.total_steps - global_step) / max(1, self.total_steps - self.decay_from)
        return self.min_lr + (self.init_lr - self.min_lr) * scale


@registry.register_lr_scheduler("linear_warmup_step_lr")
class LinearWarmupStepLR(LRSchedule):
    """BLIP pre-training: ``max(min_lr, init_lr * decay_rate ** epoch)``."""

    def base_lr(self, epoch: int) -> float:
        return max(self.min_lr, self.init_lr * self.decay_rate**epoch)

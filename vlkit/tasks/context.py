"""What the runner tells a task: where training is (:class:`StepContext`), how to evaluate (:class:`EvalContext`).

These are the only channels between the loop and the task: the batch dict carries data only, and the runner
never sets fields on the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass(frozen=True)
class StepContext:
    """The loop's position at one training micro-batch.

    Attributes:
        epoch: The epoch (an inner epoch for the iteration runner), from 0.
        step_in_epoch: The micro-batch's index within the epoch, from 0.
        steps_per_epoch: Micro-batches in this epoch.
        global_step: Optimiser updates done so far.
    """

    epoch: int = 0
    step_in_epoch: int = 0
    steps_per_epoch: int = 0
    global_step: int = 0

    @property
    def epochs_done(self) -> float:
        """Training progress in epochs (``1.5`` = half-way through the second epoch)."""
        if self.steps_per_epoch <= 0:
            return float(self.epoch)
        return self.epoch + self.step_in_epoch / self.steps_per_epoch


def linear_ramp(ctx: StepContext | None, final: float, ramp_epochs: float) -> float:
    """A weight rising linearly from 0 to ``final`` over the first ``ramp_epochs`` epochs, then constant.

    Without a position (``ctx`` None: a forward outside the training loop) or with ``ramp_epochs <= 0`` the
    full ``final`` value is used.
    """
    if ctx is None or ramp_epochs <= 0 or ctx.steps_per_epoch <= 0:
        return final
    return final * min(1.0, ctx.epochs_done / ramp_epochs)


@dataclass(frozen=True)
class EvalContext:
    """How to evaluate one split: built by the runner per split, passed through ``task.evaluation``.

    Attributes:
        split: The split's name in result files (``val``, or ``<dataset>_<split>`` with several datasets).
        device: Where batches are moved before :meth:`~vlkit.tasks.base_task.BaseTask.valid_step`.
        result_dir: Where result files are written (None: write nothing).
        epoch_tag: Suffix of the result files (``_epoch3``, ``_best``; empty for a plain evaluation).
        dataset: The evaluated dataset (ground truth, answer lists, dense annotations); None when unknown.
        max_batches: Stop after this many batches per rank (0: all).
        progress: ``run.progress`` for the evaluation bars (``auto`` | ``on`` | ``off``).
    """

    split: str = "val"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    result_dir: Path | None = None
    epoch_tag: str = ""
    dataset: Any = None
    max_batches: int = 0
    progress: str = "auto"

    @property
    def result_name(self) -> str:
        """The result file's stem: ``<split><epoch_tag>``."""
        return f"{self.split}{self.epoch_tag}"

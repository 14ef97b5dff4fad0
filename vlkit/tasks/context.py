"""What the runner tells a task: where training is (:class:`StepContext`), how to evaluate (:class:`EvalContext`).

These are the only channels between the loop and the task: the batch dict carries data only, and the runner
never sets fields on the task.
"""

from __future__ import annotations

from dataclasses import dataclass


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

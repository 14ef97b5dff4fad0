"""The iteration-based runner: training length in optimiser updates, not passes over the data.

``run.max_iters`` updates are split into "inner epochs" of ``run.iters_per_inner_epoch`` updates;
evaluation, the LR schedule's epoch index and epoch checkpoints follow the inner epochs, while the
data stream runs on across passes (so a web-scale or iterable dataset needs no length).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn
from torch.utils.data import Dataset

from vlkit.common.config import Config, ConfigError
from vlkit.common.registry import registry
from vlkit.runners.runner_base import RunnerBase

if TYPE_CHECKING:
    from vlkit.tasks.base_task import BaseTask


@registry.register_runner("runner_iter")
class RunnerIter(RunnerBase):
    """Trains for ``run.max_iters`` optimiser updates in inner epochs of ``run.iters_per_inner_epoch``."""

    def __init__(
        self, cfg: Config, task: BaseTask, model: nn.Module, datasets: dict[str, dict[str, Dataset]], job_dir: Path
    ) -> None:
        run = cfg.run_cfg
        if run.max_iters <= 0 or run.iters_per_inner_epoch <= 0:
            raise ConfigError(
                "run.runner=runner_iter needs run.max_iters > 0 and run.iters_per_inner_epoch > 0 "
                f"(got {run.max_iters} and {run.iters_per_inner_epoch})."
            )
        super().__init__(cfg, task, model, datasets, job_dir)

    @property
    def max_epochs(self) -> int:
        return math.ceil(self.run_cfg.max_iters / self.run_cfg.iters_per_inner_epoch)

    def batches_in_epoch(self, epoch: int) -> int:
        per_epoch = self.run_cfg.iters_per_inner_epoch
        updates = min(per_epoch, self.run_cfg.max_iters - epoch * per_epoch)
        return updates * self.run_cfg.accum_grad_iters

    def on_epoch_end(self) -> None:
        """The data stream continues where it is: inner epochs are not passes over the data."""

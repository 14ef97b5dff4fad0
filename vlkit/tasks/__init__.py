"""Tasks: how a job builds its model and datasets, what a step computes, how results become metrics."""

from vlkit.tasks.base_task import BaseTask

__all__ = ["BaseTask"]

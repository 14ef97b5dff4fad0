"""Runners (training/evaluation loops) and their parts; importing this registers the runners and LR schedules."""

from vlkit.runners import lr_schedulers
from vlkit.runners.job import run_job
from vlkit.runners.runner_base import RunnerBase
from vlkit.runners.runner_iter import RunnerIter

__all__ = ["RunnerBase", "RunnerIter", "lr_schedulers", "run_job"]

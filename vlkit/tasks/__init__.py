"""Tasks: how a job builds its model and datasets, what a step computes, how results become metrics."""

from vlkit.tasks import captioning, classification, image_text_pretrain, retrieval, vqa  # noqa: F401 (register)
from vlkit.tasks.base_task import BaseTask

__all__ = ["BaseTask"]

"""Tasks: how a job builds its model and datasets, what a step computes, how results become metrics."""

from vlkit.tasks import (  # noqa: F401 (register the tasks)
    captioning,
    dialogue,
    image_text_pretrain,
    multimodal_classification,
    retrieval,
    video_qa,
    video_retrieval,
    vqa,
    warm_start,
    zero_shot_classification,
)
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.context import EvalContext, StepContext

__all__ = ["BaseTask", "EvalContext", "StepContext"]

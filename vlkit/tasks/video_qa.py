"""Zero-shot video QA (MSRVTT-QA, MSVD-QA) with the VQA model: the video's frames replace the image."""

from __future__ import annotations

from vlkit.common.registry import registry
from vlkit.tasks.vqa import VQATask


@registry.register_task("video_qa")
class VideoQATask(VQATask):
    """Answers ranked over the dataset's answer list; accuracy = exact match with the one ground-truth answer.

    The model concatenates the frames' features along the sequence; the datasets' ``annotations_for_eval``
    give one answer per question, so the VQA accuracy reduces to exact match (in %).
    """

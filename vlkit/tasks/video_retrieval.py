"""Zero-shot text→video retrieval (MSRVTT): the retrieval protocol on video features."""

from __future__ import annotations

import torch

from vlkit.common.registry import registry
from vlkit.tasks.retrieval import RetrievalTask


@registry.register_task("video_retrieval")
class VideoRetrievalTask(RetrievalTask):
    """Frames' projections averaged for ITC, frames' features concatenated for ITM (the model's job)."""

    def metrics(self, scores_i2t: torch.Tensor, scores_t2i: torch.Tensor, dataset: object) -> dict[str, float]:
        from vlkit.metrics import video_retrieval_metrics

        return video_retrieval_metrics(scores_t2i, dataset.txt2img, scores_i2t, dataset.img2txt)

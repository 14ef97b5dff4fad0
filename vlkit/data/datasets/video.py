"""Video datasets: text-video retrieval and video QA (frames via the video processors)."""

from __future__ import annotations

from typing import Any

import torch

from vlkit.data.datasets.base import VLDataset
from vlkit.data.datasets.image_text import RetrievalEvalDataset
from vlkit.data.datasets.vqa import VQADataset, VQAEvalDataset


class VideoMixin:
    """Reads ``vis_root/<video>`` with the video processor → ``[T, 3, H, W]``."""

    def visual(self, rel: str) -> torch.Tensor:
        path = self.vis_root / rel
        self.check_exists(path, "video")
        return self.vis_processor(str(path))


class VideoCaptionDataset(VideoMixin, VLDataset):
    """Training pairs ``[{"video", "caption"}]`` → ``image`` (frames), ``text_input``, ``image_id``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.video_ids = {v: i for i, v in enumerate(dict.fromkeys(e["video"] for e in self.annotation))}

    def load(self, index: int) -> dict[str, Any]:
        e = self.annotation[index]
        return {
            "image": self.visual(e["video"]),
            "text_input": self.text(e["caption"], e["video"]),
            "image_id": self.video_ids[e["video"]],
        }


class VideoRetrievalEvalDataset(VideoMixin, RetrievalEvalDataset):
    media_key = "video"


class VideoQADataset(VideoMixin, VQADataset):
    media_key = "video"


class VideoQAEvalDataset(VideoMixin, VQAEvalDataset):
    media_key = "video"

"""Dataset classes per task; builders construct them from configs (see vlkit.data.builders)."""

from vlkit.data.datasets.base import VLDataset, collate
from vlkit.data.datasets.image_text import CaptionEvalDataset, ImageTextPairDataset, RetrievalEvalDataset
from vlkit.data.datasets.multi import NLVRDataset, VisDialDataset
from vlkit.data.datasets.video import VideoCaptionDataset, VideoQADataset, VideoQAEvalDataset, VideoRetrievalEvalDataset
from vlkit.data.datasets.vqa import VQADataset, VQAEvalDataset
from vlkit.data.datasets.web import WebImageTextDataset

__all__ = [
    "CaptionEvalDataset",
    "ImageTextPairDataset",
    "NLVRDataset",
    "RetrievalEvalDataset",
    "VLDataset",
    "VQADataset",
    "VQAEvalDataset",
    "VideoCaptionDataset",
    "VideoQADataset",
    "VideoQAEvalDataset",
    "VideoRetrievalEvalDataset",
    "VisDialDataset",
    "WebImageTextDataset",
    "collate",
]

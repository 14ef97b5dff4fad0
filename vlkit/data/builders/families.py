"""Builders per dataset family. Registered names (and their ``shapes_*`` twins) are in ``__init__``."""

from __future__ import annotations

import glob
import json
from collections.abc import Collection
from typing import Any, ClassVar

from omegaconf import DictConfig
from torch.utils.data import Dataset

from vlkit.data.builders import schemas
from vlkit.data.builders.base_builder import BaseDatasetBuilder
from vlkit.data.datasets import (
    CaptionEvalDataset,
    ImageTextPairDataset,
    NLVRDataset,
    RetrievalEvalDataset,
    VideoCaptionDataset,
    VideoQADataset,
    VideoQAEvalDataset,
    VideoRetrievalEvalDataset,
    VQADataset,
    VQAEvalDataset,
    WebImageTextDataset,
)
from vlkit.data.shards import expand_shard_pattern


class CaptionBuilder(BaseDatasetBuilder):
    """COCO-Karpathy style captioning: pairs for training, one entry per image (+ COCO gt) for evaluation."""

    IMAGES_HINT = (
        "Download train2014 and val2014 from cocodataset.org and unpack both (annotation paths look like "
        "val2014/COCO_val2014_000000391895.jpg)"
    )
    ID_KEY: ClassVar[str] = "image_id"
    SCHEMAS = {"train": schemas.IMAGE_TEXT_PAIRS, "eval": schemas.CAPTION_EVAL}

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        kw = self.common_kwargs(split)
        if split == "train":
            return ImageTextPairDataset(annotation, vis_root=self.media_root(), **kw)
        return CaptionEvalDataset(
            annotation, vis_root=self.media_root(), gt_file=self.path(info.get("gt_storage")), id_key=self.ID_KEY, **kw
        )


class NoCapsBuilder(CaptionBuilder):
    IMAGES_HINT = "Download the NoCaps validation/test images (Open Images) listed on nocaps.org"
    ID_KEY = "img_id"


class RetrievalBuilder(BaseDatasetBuilder):
    """Retrieval: pairs with image ids for training; images with their captions (txt2img/img2txt) for evaluation."""

    IMAGES_HINT = "Download the dataset's images (COCO 2014 from cocodataset.org, Flickr30k from its request form)"
    SCHEMAS = {"train": schemas.IMAGE_TEXT_PAIRS, "eval": schemas.RETRIEVAL_EVAL}

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        kw = self.common_kwargs(split)
        if split == "train":
            return ImageTextPairDataset(annotation, vis_root=self.media_root(), **kw)
        return RetrievalEvalDataset(annotation, vis_root=self.media_root(), **kw)


class VQABuilder(BaseDatasetBuilder):
    """VQAv2 / VG QA: weighted answers for training; questions + answer list + official gt for evaluation."""

    IMAGES_HINT = "Download the COCO 2014 images (VQAv2) or Visual Genome images (VG QA)"
    SCHEMAS = {"train": schemas.VQA_TRAIN, "eval": schemas.VQA_EVAL}

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        kw = self.common_kwargs(split)
        if split == "train":
            return VQADataset(annotation, vis_root=self.media_root(), **kw)
        answers = json.loads(self.path(info.answer_list_storage).read_text()) if info.get("answer_list_storage") else []
        return VQAEvalDataset(
            annotation,
            vis_root=self.media_root(),
            answer_list=answers,
            eval_annotations=self.path(info.get("eval_storage")),
            **kw,
        )


class NLVRBuilder(BaseDatasetBuilder):
    IMAGES_HINT = "Request the NLVR2 images (lil.nlp.cornell.edu/nlvr) and unpack them"
    SCHEMAS = {"train": schemas.NLVR, "eval": schemas.NLVR}

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        return NLVRDataset(annotation, vis_root=self.media_root(), **self.common_kwargs(split))


class VideoRetrievalBuilder(BaseDatasetBuilder):
    IMAGES_HINT = "Download the MSRVTT videos (the 1k-A test split) and unpack the .mp4 files"
    SCHEMAS = {"train": schemas.VIDEO_TEXT_PAIRS, "eval": schemas.VIDEO_RETRIEVAL_EVAL}

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        kw = self.common_kwargs(split, "videos")
        root = self.media_root("videos")
        if split == "train":
            return VideoCaptionDataset(annotation, vis_root=root, **kw)
        return VideoRetrievalEvalDataset(annotation, vis_root=root, **kw)


class VideoQABuilder(BaseDatasetBuilder):
    IMAGES_HINT = "Download the dataset's videos (MSRVTT or MSVD) and unpack them"
    SCHEMAS = {"train": schemas.VIDEO_QA_TRAIN, "eval": schemas.VIDEO_QA_EVAL}

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        kw = self.common_kwargs(split, "videos")
        root = self.media_root("videos")
        if split == "train":
            return VideoQADataset(annotation, vis_root=root, **kw)
        answers = json.loads(self.path(info.answer_list_storage).read_text()) if info.get("answer_list_storage") else []
        return VideoQAEvalDataset(annotation, vis_root=root, answer_list=answers, **kw)


class ImageTextJsonBuilder(BaseDatasetBuilder):
    """A ``[{"image", "caption"}]`` json list (CC3M/CC12M/SBU in json form, or your own data)."""

    IMAGES_HINT = "Put the images the json list refers to under the images directory"
    SCHEMAS = {"train": schemas.IMAGE_TEXT_PAIRS, "eval": schemas.IMAGE_TEXT_PAIRS}

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        return ImageTextPairDataset(annotation, vis_root=self.media_root(), **self.common_kwargs(split))


class WebCaptionBuilder(ImageTextJsonBuilder):
    DEFAULT_POLICY = "skip"
    IMAGES_HINT = "Download the images with img2dataset (urls from the dataset's release)"


class VGCaptionBuilder(ImageTextJsonBuilder):
    """Visual Genome region descriptions as BLIP pre-trains on them: LAVIS's ``vg_caption.json`` pairs."""

    IMAGES_HINT = (
        "Download Visual Genome's images.zip and images2.zip (https://cs.stanford.edu/people/rak248/VG_100K_2/) and "
        "unpack both (annotation paths look like VG_100K/2.jpg and VG_100K_2/1.jpg)"
    )


class WebDatasetBuilder(BaseDatasetBuilder):
    """Webdataset tar shards (``build_info.shards``: a glob or brace pattern) streamed by rank and worker."""

    DEFAULT_POLICY = "skip"

    def build_datasets(self, splits: Collection[str] | None = None) -> dict[str, Dataset]:
        """The one ``train`` split (nothing when ``splits`` leaves it out)."""
        if splits is not None and "train" not in splits:
            return {}

        pattern = str(self.path(self.cfg.build_info.get("shards")))
        where = f"datasets.{self.name}.build_info.shards"
        shards = expand_shard_pattern(pattern, where) if "{" in pattern else sorted(glob.glob(pattern))
        if not shards:
            raise FileNotFoundError(f"{self.name}: no webdataset shards match {pattern} (build_info.shards).")
        length = self.cfg.build_info.get("num_samples")
        vis, txt = self.processors("train")
        ds = WebImageTextDataset(
            shards,
            vis,
            txt,
            name=f"{self.name}/train",
            policy=self.policy,
            resample=bool(self.cfg.build_info.get("resample", False)),
            length=length,
            max_image_pixels=self.cfg.max_image_pixels,
            alpha=self.cfg.alpha,
        )
        return {"train": ds}

"""Builders per dataset family. Registered names (and their ``shapes_*`` twins) are in ``__init__``."""

from __future__ import annotations

import glob
import json
from collections.abc import Collection
from typing import Any, ClassVar

from omegaconf import DictConfig
from torch.utils.data import Dataset

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
    VisDialDataset,
    VQADataset,
    VQAEvalDataset,
    WebImageTextDataset,
)


class CaptionBuilder(BaseDatasetBuilder):
    """COCO-Karpathy style captioning: pairs for training, one entry per image (+ COCO gt) for evaluation."""

    IMAGES_HINT = (
        "Download train2014 and val2014 from cocodataset.org and unpack both (annotation paths look like "
        "val2014/COCO_val2014_000000391895.jpg)"
    )
    ID_KEY: ClassVar[str] = "image_id"

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

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        kw = self.common_kwargs(split)
        if split == "train":
            return ImageTextPairDataset(annotation, vis_root=self.media_root(), **kw)
        return RetrievalEvalDataset(annotation, vis_root=self.media_root(), **kw)


class VQABuilder(BaseDatasetBuilder):
    """VQAv2 / VG QA: weighted answers for training; questions + answer list + official gt for evaluation."""

    IMAGES_HINT = "Download the COCO 2014 images (VQAv2) or Visual Genome images (VG QA)"

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

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        return NLVRDataset(annotation, vis_root=self.media_root(), **self.common_kwargs(split))


class VisDialBuilder(BaseDatasetBuilder):
    """VisDial v1.0 official json → one sample per round (history = earlier rounds' Q/A)."""

    IMAGES_HINT = "Download the VisDial v1.0 images (visualdialog.org)"

    def load_annotation(self, split: str, info: DictConfig) -> Any:
        raw = super().load_annotation(split, info)
        data = raw["data"]
        questions, answers = data["questions"], data["answers"]
        dense = {}
        if info.get("dense_storage") and self.path(info.dense_storage).is_file():
            for d in json.loads(self.path(info.dense_storage).read_text()):
                dense[(int(d["image_id"]), int(d["round_id"]))] = d["gt_relevance"]
        rounds = []
        for dialog in data["dialogs"]:
            history: list[str] = []
            image = info.get("image_pattern", "{split}/VisualDialog_{split}_{image_id:012d}.jpg").format(
                split=raw.get("split", split), image_id=int(dialog["image_id"])
            )
            for r, turn in enumerate(dialog["dialog"]):
                q, a = questions[turn["question"]], answers[turn["answer"]]
                rounds.append(
                    {
                        "image": image,
                        "image_id": dialog["image_id"],
                        "round_id": r + 1,
                        "caption": dialog["caption"],
                        "history": " ".join(history),
                        "question": q,
                        "options": [answers[i] for i in turn["answer_options"]],
                        "gt_index": turn["gt_index"],
                    }
                )
                history.append(f"{q}? {a}.")
        self._dense = dense
        return rounds

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        return VisDialDataset(annotation, vis_root=self.media_root(), dense=self._dense, **self.common_kwargs(split))


class VideoRetrievalBuilder(BaseDatasetBuilder):
    IMAGES_HINT = "Download the MSRVTT videos (the 1k-A test split) and unpack the .mp4 files"

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        kw = self.common_kwargs(split, "videos")
        root = self.media_root("videos")
        if split == "train":
            return VideoCaptionDataset(annotation, vis_root=root, **kw)
        return VideoRetrievalEvalDataset(annotation, vis_root=root, **kw)


class VideoQABuilder(BaseDatasetBuilder):
    IMAGES_HINT = "Download the dataset's videos (MSRVTT or MSVD) and unpack them"

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

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        if not isinstance(annotation, list) or (annotation and not {"image", "caption"} <= set(annotation[0])):
            raise ValueError(f"{self.name}: the annotation file must be a json list of {{'image', 'caption'}} entries.")
        return ImageTextPairDataset(annotation, vis_root=self.media_root(), **self.common_kwargs(split))


class WebCaptionBuilder(ImageTextJsonBuilder):
    DEFAULT_POLICY = "skip"
    IMAGES_HINT = "Download the images with img2dataset (urls from the dataset's release)"


class WebDatasetBuilder(BaseDatasetBuilder):
    """Webdataset tar shards (``build_info.shards``: a glob or brace pattern) streamed by rank and worker."""

    DEFAULT_POLICY = "skip"

    def build_datasets(self, splits: Collection[str] | None = None) -> dict[str, Dataset]:
        """The one ``train`` split (nothing when ``splits`` leaves it out)."""
        from vlkit.capfilt.sources import expand_shard_pattern

        if splits is not None and "train" not in splits:
            return {}

        pattern = str(self.path(self.cfg.build_info.get("shards")))
        shards = expand_shard_pattern(pattern) if "{" in pattern else sorted(glob.glob(pattern))
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

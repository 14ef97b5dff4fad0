"""Image-text datasets: caption/retrieval training pairs, captioning and retrieval evaluation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vlkit.data.datasets.base import VLDataset


def image_ids(annotation: list[dict], key: str = "image") -> dict[str, int]:
    """A dense integer id per distinct image (positives sharing an image in ITC)."""
    ids: dict[str, int] = {}
    for entry in annotation:
        ids.setdefault(str(entry.get("image_id", entry[key])), len(ids))
    return ids


class ImageTextPairDataset(VLDataset):
    """``[{"image", "caption"(, "image_id")}]`` one pair per entry → ``image``, ``text_input``, ``image_id``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.img_ids = image_ids(self.annotation)

    def load(self, index: int) -> dict[str, Any]:
        entry = self.annotation[index]
        caption = entry["caption"]
        if isinstance(caption, list):  # some web lists carry several captions: use the first
            caption = caption[0] if caption else None
        return {
            "image": self.image(entry["image"]),
            "text_input": self.text(caption, f"{entry['image']} (caption)"),
            "image_id": self.img_ids[str(entry.get("image_id", entry["image"]))],
        }


class CaptionEvalDataset(VLDataset):
    """One entry per image with reference captions → ``image``, ``image_id`` (the COCO integer id)."""

    def __init__(self, *args: Any, gt_file: str | Path | None = None, id_key: str = "image_id", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gt_file, self.id_key = gt_file, id_key

    def coco_id(self, entry: dict) -> int:
        if self.id_key in entry:
            return int(entry[self.id_key])
        return int("".join(ch for ch in Path(entry["image"]).stem.split("_")[-1] if ch.isdigit()))

    def load(self, index: int) -> dict[str, Any]:
        entry = self.annotation[index]
        return {"image": self.image(entry["image"]), "image_id": self.coco_id(entry)}

    def has_references(self) -> bool:
        """Whether there is anything to score against (a gt file, or captions in every entry); a test split
        without them is evaluated by a server (vlkit writes the upload file)."""
        if self.gt_file is not None and Path(self.gt_file).is_file():
            return True
        return bool(self.annotation) and all(e.get("caption") for e in self.annotation)

    def coco_gt(self) -> dict:
        """COCO-format ground truth: the dataset's gt file, or built from its reference captions."""
        if self.gt_file is not None and Path(self.gt_file).is_file():
            return json.loads(Path(self.gt_file).read_text(encoding="utf-8"))
        from vlkit.metrics import build_coco_gt

        return build_coco_gt([{"image_id": self.coco_id(e), "captions": e["caption"]} for e in self.annotation])


class RetrievalEvalDataset(VLDataset):
    """One entry per image (or video) with its captions; exposes ``text``, ``image``, ``txt2img``, ``img2txt``."""

    media_key = "image"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.text: list[str] = []
        self.image: list[str] = []
        self.txt2img: list[int] = []
        self.img2txt: list[list[int]] = []
        for img_idx, entry in enumerate(self.annotation):
            self.image.append(entry[self.media_key])
            self.img2txt.append([])
            captions = entry["caption"]
            for caption in [captions] if isinstance(captions, str) else captions:
                self.img2txt[img_idx].append(len(self.text))
                self.text.append(self.text_processor(caption) if self.text_processor else caption)
                self.txt2img.append(img_idx)

    def load(self, index: int) -> dict[str, Any]:
        return {"image": self.visual(self.annotation[index][self.media_key]), "index": index}

    def visual(self, rel: str) -> Any:
        return VLDataset.image(self, rel)

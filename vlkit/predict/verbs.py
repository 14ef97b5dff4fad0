"""The five things ``vlkit predict`` does to a batch of images: caption, vqa, itm, embed, classify.

A verb checks up front that the model and the options fit (a clear error naming what to change), then turns
each batch into one record per image (``{"id": ..., ...}``). Models are used through their public methods
(``generate``, ``predict_answers``, ``image_features``/``text_features``, the ITM head, and
:class:`~vlkit.models.zero_shot.ZeroShotClassifier`).
"""

from __future__ import annotations

import argparse
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from vlkit.models.zero_shot import ITM_MODELS, ZeroShotClassifier, check_templates, parse_names


def _image(model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
    param = next(model.parameters())
    return batch["image"].to(device=param.device, dtype=param.dtype)


def _require(model: nn.Module, methods: tuple[str, ...], verb: str, models: str) -> None:
    missing = [m for m in methods if not hasattr(model, m)]
    if missing:
        raise ValueError(f"`predict {verb}` needs a model with {', '.join(missing)}: use {models}.")


class Verb(ABC):
    """One ``vlkit predict`` action. Subclasses set ``name`` and implement ``__call__``."""

    name: ClassVar[str] = ""
    writes_embeddings: ClassVar[bool] = False

    def __init__(self, model: nn.Module, args: argparse.Namespace) -> None:
        self.model, self.args = model, args

    @abstractmethod
    def __call__(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        """One result record per usable item of ``batch``."""

    def check_item_fields(self, batch: dict[str, Any]) -> list[tuple[str, str]]:
        """``(id, reason)`` of the batch's items this verb cannot use (e.g. a VQA item with no question)."""
        return []


class Caption(Verb):
    name = "caption"

    def __init__(self, model: nn.Module, args: argparse.Namespace) -> None:
        super().__init__(model, args)
        _require(model, ("generate",), self.name, "blip_caption")

    def __call__(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        a = self.args
        captions = self.model.generate(
            {"image": _image(self.model, batch)},
            use_nucleus_sampling=a.nucleus,
            num_beams=a.num_beams,
            max_length=a.max_length,
            min_length=a.min_length,
            top_p=a.top_p,
            num_captions=a.num_captions,
        )
        n = a.num_captions
        if n == 1:
            return [{"id": i, "caption": c} for i, c in zip(batch["id"], captions, strict=True)]
        return [{"id": i, "captions": captions[k * n : (k + 1) * n]} for k, i in enumerate(batch["id"])]


class VQA(Verb):
    name = "vqa"

    def __init__(self, model: nn.Module, args: argparse.Namespace) -> None:
        super().__init__(model, args)
        _require(model, ("predict_answers",), self.name, "blip_vqa")
        self.answer_list = parse_names(args.answer_list, "--answer-list") if args.answer_list else None

    def check_item_fields(self, batch: dict[str, Any]) -> list[tuple[str, str]]:
        if self.args.question:
            return []
        return [
            (i, "no question: pass --question, or give each entry of the input a 'question'")
            for i, q in zip(batch["id"], batch["question"], strict=True)
            if not q
        ]

    def __call__(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        questions = [q or self.args.question for q in batch["question"]]  # an item's own question comes first
        answers = self.model.predict_answers(
            {"image": _image(self.model, batch), "text_input": questions},
            inference_method="rank" if self.answer_list else "generate",
            answer_list=self.answer_list,
            num_beams=self.args.num_beams,
        )
        return [{"id": i, "question": q, "answer": a} for i, q, a in zip(batch["id"], questions, answers, strict=True)]


class ITM(Verb):
    """Match probability (ITM) and cosine similarity (ITC) of each image with each of its texts."""

    name = "itm"

    def __init__(self, model: nn.Module, args: argparse.Namespace) -> None:
        super().__init__(model, args)
        _require(model, ("itm_head", "image_features", "text_features", "multimodal_embeds"), self.name, ITM_MODELS)
        self.texts = parse_names(args.texts, "--texts") if args.texts else None

    def check_item_fields(self, batch: dict[str, Any]) -> list[tuple[str, str]]:
        if self.texts:
            return []
        return [
            (i, "no texts to match: pass --texts, or give each entry of the input 'texts' (or a .txt member)")
            for i, t in zip(batch["id"], batch["texts"], strict=True)
            if not t
        ]

    def __call__(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        per_item = [t or self.texts for t in batch["texts"]]  # an item's own texts come first
        image_embeds, image_proj = self.model.image_features(_image(self.model, batch))
        counts = torch.tensor([len(t) for t in per_item], device=image_embeds.device)
        flat = [t for texts in per_item for t in texts]
        _, ids, atts, text_proj = self.model.text_features(flat)
        rows = image_embeds.repeat_interleave(counts, dim=0)
        logits = self.model.itm_head(self.model.multimodal_embeds(rows, ids, atts)[:, 0]).float()
        itm = logits.softmax(dim=-1)[:, 1].tolist()
        itc = (image_proj.repeat_interleave(counts, dim=0).float() * text_proj.float()).sum(dim=-1).tolist()
        out, k = [], 0
        for item_id, texts in zip(batch["id"], per_item, strict=True):
            scores = [
                {"text": t, "itm": round(itm[k + j], 6), "itc": round(itc[k + j], 6)} for j, t in enumerate(texts)
            ]
            out.append({"id": item_id, "scores": scores})
            k += len(texts)
        return out


class Embed(Verb):
    """The image's L2-normalised ITC projection (the vector retrieval compares)."""

    name = "embed"
    writes_embeddings = True

    def __init__(self, model: nn.Module, args: argparse.Namespace) -> None:
        super().__init__(model, args)
        _require(model, ("image_features",), self.name, "blip_feature_extractor, blip_retrieval or blip_pretrain")

    def __call__(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        _, proj = self.model.image_features(_image(self.model, batch))
        proj = torch.nn.functional.normalize(proj.float(), dim=-1)
        return [{"id": i, "embedding": row} for i, row in zip(batch["id"], proj, strict=True)]


class Classify(Verb):
    name = "classify"

    def __init__(self, model: nn.Module, args: argparse.Namespace) -> None:
        super().__init__(model, args)
        classes = parse_names(args.classes, "--classes")
        templates = check_templates(_templates(args.templates)) if args.templates else None
        kwargs = {"templates": templates} if templates else {}
        self.classifier = ZeroShotClassifier(model, classes, rerank_k=args.rerank_k, **kwargs)

    def __call__(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        prediction = self.classifier.classify(batch["image"])
        out = []
        for item_id, ranked in zip(batch["id"], self.classifier.labels(prediction, self.args.top_k), strict=True):
            top = [{"label": label, "score": round(score, 6)} for label, score in ranked]
            out.append({"id": item_id, "label": top[0]["label"], "top": top})
        return out


def _templates(value: str) -> list[str]:
    """Templates from a file (one per line) or a ``|``-separated string (templates may contain commas)."""
    path = Path(value).expanduser()
    if path.is_file():
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [t.strip() for t in value.split("|") if t.strip()]


VERBS: dict[str, type[Verb]] = {v.name: v for v in (Caption, VQA, ITM, Embed, Classify)}

__all__ = ["VERBS", "Verb"]

"""Zero-shot image classification with BLIP's contrastive (ITC) heads, optionally re-ranked by ITM.

Each class name is put into every prompt template ("a photo of a {}."); a class's ITC score is the mean,
over templates, of the cosine similarity between the image and the filled-in prompt. With ``rerank_k``,
the ``k`` best classes by ITC are re-ordered by the image-grounded matching head (ITM match probability,
averaged over templates), as BLIP re-ranks retrieval candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_TEMPLATES: tuple[str, ...] = ("a photo of a {}.", "a picture of a {}.", "an image of a {}.")
ITC_MODELS = "blip_feature_extractor, blip_retrieval, blip_image_text_matching or blip_pretrain"
ITM_MODELS = "blip_retrieval, blip_image_text_matching or blip_pretrain"


def parse_names(value: str | Sequence[str] | None, what: str = "class_names") -> list[str]:
    """Class names (or templates) from a list, a comma-separated string, or a file (one per line, or a json list).

    Raises:
        ValueError: nothing given, a blank entry, or a duplicate; the message names ``what``.
    """
    if value is None:
        raise ValueError(
            f"zero-shot classification needs class names ({what}): e.g. 'cat,dog', or a file with one name per line."
        )
    if isinstance(value, str):
        path = Path(value).expanduser()
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                import json

                names = [str(n) for n in json.loads(text)]
            else:
                names = [line.strip() for line in text.splitlines() if line.strip()]
        else:
            names = [n.strip() for n in value.split(",")]
    else:
        names = [str(n).strip() for n in value]
    if not names or any(not n for n in names):
        raise ValueError(f"{what}: empty name in {value!r}; give one name per comma (or per line of a file).")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{what}: {', '.join(map(repr, dupes))} given more than once; each name must be unique.")
    return names


def check_templates(templates: Sequence[str]) -> list[str]:
    """The templates, each holding ``{}`` exactly once (where the class name goes)."""
    out = list(templates)
    if not out:
        raise ValueError("templates: give at least one prompt template, e.g. 'a photo of a {}.'")
    for t in out:
        if t.count("{}") != 1:
            raise ValueError(f"template {t!r} must contain '{{}}' exactly once (where the class name goes).")
    return out


@dataclass
class ZeroShotPrediction:
    """Scores for a batch of ``B`` images over ``C`` classes.

    Attributes:
        itc: ``[B, C]`` mean cosine similarity over the templates.
        ranking: ``[B, C]`` class indices, best first (the re-ranked candidates first when ITM re-ranks).
        candidates: ``[B, k]`` the ITC top-k that ITM re-scored (None without re-ranking).
        itm: ``[B, k]`` ITM match probability of ``candidates`` (None without re-ranking).
    """

    itc: torch.Tensor
    ranking: torch.Tensor
    candidates: torch.Tensor | None = None
    itm: torch.Tensor | None = None

    @property
    def predictions(self) -> torch.Tensor:
        """``[B]`` the best class of each image."""
        return self.ranking[:, 0]

    def score_of(self, row: int, cls: int) -> float:
        """The score ``cls`` was ranked by for image ``row``: ITM probability if re-scored, else ITC similarity."""
        if self.candidates is not None and self.itm is not None:
            hit = (self.candidates[row] == cls).nonzero()
            if hit.numel():
                return float(self.itm[row, int(hit[0, 0])])
        return float(self.itc[row, cls])


class ZeroShotClassifier:
    """Classify images into ``class_names`` with a BLIP model that has ITC heads.

    Args:
        model: A model with ``image_features``/``text_features`` (and ``itm_head`` to re-rank): {models}.
        class_names: The classes, in the order of the returned indices.
        templates: Prompt templates with ``{{}}`` where the class name goes.
        rerank_k: Re-rank the ITC top-k classes with ITM (0: ITC only).
        text_batch_size: Prompts encoded per text forward pass.

    Raises:
        ValueError: no classes, a bad template, or a model without the heads asked for.
    """

    def __init__(
        self,
        model: nn.Module,
        class_names: Sequence[str],
        templates: Sequence[str] = DEFAULT_TEMPLATES,
        rerank_k: int = 0,
        text_batch_size: int = 256,
    ) -> None:
        self.class_names = parse_names(list(class_names))
        self.templates = check_templates(templates)
        name = type(model).__name__
        if not all(hasattr(model, a) for a in ("image_features", "text_features", "vision_proj", "text_proj")):
            raise ValueError(f"{name} has no image-text contrastive (ITC) heads; classify with {ITC_MODELS}.")
        if rerank_k < 0:
            raise ValueError(f"rerank_k must be 0 (ITC only) or positive, got {rerank_k}.")
        if rerank_k and not hasattr(model, "itm_head"):
            raise ValueError(f"{name} has no ITM head to re-rank with (rerank_k={rerank_k}); use {ITM_MODELS}.")
        self.model, self.rerank_k, self.text_batch_size = model, rerank_k, text_batch_size
        self._class_embeds: torch.Tensor | None = None

    def prompts(self, template: str) -> list[str]:
        return [template.format(c) for c in self.class_names]

    @torch.no_grad()
    def class_embeddings(self) -> torch.Tensor:
        """``[C, D]`` the mean over templates of each class's normalised prompt projection (computed once).

        Not re-normalised: an image's dot product with it is then exactly the mean of its cosine similarities.
        """
        if self._class_embeds is None:
            total = None
            for template in self.templates:
                prompts = self.prompts(template)
                proj = torch.cat(
                    [
                        self.model.text_features(prompts[i : i + self.text_batch_size])[3].float()
                        for i in range(0, len(prompts), self.text_batch_size)
                    ]
                )
                total = proj if total is None else total + proj
            self._class_embeds = total / len(self.templates)
        return self._class_embeds

    @torch.no_grad()
    def classify(self, images: torch.Tensor) -> ZeroShotPrediction:
        """Score ``images`` (``[B, 3, H, W]``, already preprocessed) against every class."""
        param = next(self.model.parameters())
        image_embeds, image_proj = self.model.image_features(images.to(device=param.device, dtype=param.dtype))
        itc = image_proj.float() @ self.class_embeddings().T
        ranking = itc.argsort(dim=1, descending=True)
        if not self.rerank_k:
            return ZeroShotPrediction(itc=itc, ranking=ranking)
        k = min(self.rerank_k, len(self.class_names))
        candidates = ranking[:, :k]
        itm = self._itm_probabilities(image_embeds, candidates)
        order = itm.argsort(dim=1, descending=True)
        ranking = torch.cat([candidates.gather(1, order), ranking[:, k:]], dim=1)
        return ZeroShotPrediction(itc=itc, ranking=ranking, candidates=candidates, itm=itm)

    def _itm_probabilities(self, image_embeds: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """``[B, k]`` ITM match probability of each image with its candidate classes, averaged over templates."""
        b, k = candidates.shape
        rows = image_embeds.repeat_interleave(k, dim=0)
        flat = candidates.flatten().tolist()
        total = torch.zeros(b * k, device=candidates.device)
        for template in self.templates:
            ids, atts = self.model.tokenize([template.format(self.class_names[c]) for c in flat])
            logits = self.model.itm_head(self.model.multimodal_embeds(rows, ids, atts)[:, 0])
            total += F.softmax(logits.float(), dim=-1)[:, 1].to(total.device)
        return (total / len(self.templates)).view(b, k)

    def labels(self, prediction: ZeroShotPrediction, top_k: int = 1) -> list[list[tuple[str, float]]]:
        """Per image, the ``top_k`` best ``(class name, score)`` pairs (see :meth:`ZeroShotPrediction.score_of`)."""
        k = min(top_k, len(self.class_names))
        return [
            [(self.class_names[c], prediction.score_of(row, c)) for c in prediction.ranking[row, :k].tolist()]
            for row in range(prediction.ranking.shape[0])
        ]


ZeroShotClassifier.__doc__ = (ZeroShotClassifier.__doc__ or "").format(models=ITC_MODELS)

__all__ = ["DEFAULT_TEMPLATES", "ZeroShotClassifier", "ZeroShotPrediction", "check_templates", "parse_names"]

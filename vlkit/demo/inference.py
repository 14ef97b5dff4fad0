"""What the demo page does, without gradio: pick models from the registry, load them once, run one image.

Each task needs a model with one method: captioning ``generate``, VQA ``predict_answers``, matching
``itm_scores`` (the ITM head) and ``image_features`` (ITC), zero-shot classification ``image_features`` and
``text_features``. The dropdowns list the registered models that have it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from vlkit.common.registry import registry

# task -> (method the model class must have, default (name, type) offered first)
TASKS: dict[str, tuple[str, tuple[str, str]]] = {
    "caption": ("generate", ("blip_caption", "base_coco")),
    "vqa": ("predict_answers", ("blip_vqa", "vqav2")),
    "itm": ("itm_scores", ("blip_image_text_matching", "base")),
    "classify": ("text_features", ("blip_feature_extractor", "base")),
}
DEFAULT_TEMPLATE = "a photo of a {}"


class DemoInputError(ValueError):
    """Something the page's user must change (no image, no classes, a model without the task's head)."""


def models_for(task: str) -> list[str]:
    """Registered model names whose class has ``task``'s method."""
    method = TASKS[task][0]
    return [n for n in registry.list_models() if callable(getattr(registry.get_model_class(n), method, None))]


def types_for(name: str) -> list[str]:
    """The model types of ``name`` (its YAMLs)."""
    return sorted(getattr(registry.get_model_class(name), "PRETRAINED_MODEL_CONFIG_DICT", {}))


@dataclass(frozen=True)
class ModelKey:
    """What identifies a loaded model: name, type, optional checkpoint (path, URL or Hub id)."""

    name: str
    model_type: str
    checkpoint: str | None = None


class ModelCache:
    """Loads models on first use (with their eval processors) and keeps the ``capacity`` most recent.

    Args:
        device: where models run.
        dtype: inference dtype passed to ``load_model`` (``None``: float32).
        capacity: how many models stay loaded (a base model takes about 1 GB in float32).
    """

    def __init__(self, device: str | torch.device = "cpu", dtype: str | None = None, capacity: int = 2) -> None:
        self.device, self.dtype, self.capacity = device, dtype, capacity
        self._models: OrderedDict[ModelKey, tuple[Any, Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: ModelKey) -> tuple[Any, Any, Any]:
        """``(model, image processor, text processor)`` for ``key`` (eval variants), loading it if needed."""
        from vlkit.models import load_model_and_preprocess

        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            model, vis, txt = load_model_and_preprocess(
                key.name,
                key.model_type,
                is_eval=True,
                device=self.device,
                checkpoint=key.checkpoint or None,
                dtype=self.dtype,
            )
            entry = (model, vis["eval"], txt["eval"])
            self._models[key] = entry
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return entry


def _batch(vis: Any, image: Image.Image | None) -> torch.Tensor:
    if image is None:
        raise DemoInputError("Upload an image first.")
    return vis(image.convert("RGB"))[None]


@torch.no_grad()
def caption(
    entry: tuple[Any, Any, Any],
    image: Image.Image | None,
    method: str = "beam",
    num_beams: int = 3,
    max_length: int = 30,
    min_length: int = 5,
    top_p: float = 0.9,
    seed: int = 0,
) -> str:
    """One caption by beam search (``method="beam"``) or nucleus sampling (``"nucleus"``, seeded)."""
    model, vis, _ = entry
    if method not in ("beam", "nucleus"):
        raise DemoInputError(f"method must be 'beam' or 'nucleus', got {method!r}.")
    generator = torch.Generator(device=model.device).manual_seed(int(seed))
    return model.generate(
        {"image": _batch(vis, image).to(model.device)},
        use_nucleus_sampling=method == "nucleus",
        num_beams=int(num_beams),
        max_length=int(max_length),
        min_length=int(min_length),
        top_p=float(top_p),
        generator=generator,
    )[0]


@torch.no_grad()
def answer(entry: tuple[Any, Any, Any], image: Image.Image | None, question: str, candidates: str = "") -> str:
    """The answer to ``question``: generated, or ranked among comma-separated ``candidates`` when given."""
    model, vis, txt = entry
    if not question.strip():
        raise DemoInputError("Type a question.")
    samples = {"image": _batch(vis, image).to(model.device), "text_input": [txt(question)]}
    options = [c.strip() for c in candidates.split(",") if c.strip()]
    if options:
        return model.predict_answers(samples, inference_method="rank", answer_list=options, num_ans_candidates=128)[0]
    return model.predict_answers(samples, inference_method="generate")[0]


@torch.no_grad()
def match(entry: tuple[Any, Any, Any], image: Image.Image | None, text: str) -> dict[str, float]:
    """``{"itm": match probability, "itc": cosine similarity}`` of the image and ``text``."""
    model, vis, txt = entry
    if not text.strip():
        raise DemoInputError("Type a text to match against the image.")
    if not hasattr(model, "itm_head"):
        raise DemoInputError(
            f"{type(model).__name__} has no ITM head; pick blip_image_text_matching or blip_retrieval for matching."
        )
    image_embeds, image_proj = model.image_features(_batch(vis, image))
    _, ids, atts, text_proj = model.text_features([txt(text)])
    logits = model.itm_head(model.multimodal_embeds(image_embeds, ids, atts)[:, 0]).float()
    return {"itm": logits.softmax(dim=-1)[0, 1].item(), "itc": (image_proj.float() @ text_proj.float().t()).item()}


@torch.no_grad()
def zero_shot_scores(
    model: Any, image: torch.Tensor, classes: list[str], template: str = DEFAULT_TEMPLATE
) -> torch.Tensor:
    """Class probabilities ``[B, C]``: vlkit's zero-shot classifier (ITC of each image with ``template`` filled
    with each class), softmaxed at the model's ITC temperature so the page can show probabilities."""
    from vlkit.models.zero_shot import ZeroShotClassifier

    itc = ZeroShotClassifier(model, classes, [template]).classify(image).itc
    temp = float(model.temp) if hasattr(model, "temp") else float(model.config.temp)
    return (itc / temp).softmax(dim=-1)


def classify(
    entry: tuple[Any, Any, Any], image: Image.Image | None, classes: str, template: str = DEFAULT_TEMPLATE
) -> dict[str, float]:
    """``{class: probability}`` over the comma-separated ``classes``, most likely first."""
    model, vis, txt = entry
    names = [c.strip() for c in classes.split(",") if c.strip()]
    if len(names) < 2:
        raise DemoInputError("Give at least two comma-separated class names (e.g. 'cat, dog, car').")
    if "{}" not in template:
        raise DemoInputError(f"The prompt template must contain '{{}}' where the class name goes, got {template!r}.")
    probs = zero_shot_scores(model, _batch(vis, image), [txt(n) or n for n in names], template)[0]
    order = probs.argsort(descending=True).tolist()
    return {names[i]: probs[i].item() for i in order}

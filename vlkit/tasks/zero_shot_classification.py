"""Zero-shot image classification: class names in prompt templates, ITC scores (optionally ITM re-ranked).

Nothing is trained: the task evaluates a model with ITC heads on datasets whose split carries
``class_names`` (the ``image_folder`` builder). Metrics: top-1 accuracy, top-5 accuracy (more than five
classes) and the chance level ``100 / classes`` to compare with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn

from vlkit.common.config import ConfigError, RunConfig
from vlkit.common.registry import registry
from vlkit.models.zero_shot import DEFAULT_TEMPLATES, ZeroShotClassifier, check_templates
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import dedupe, unwrap, write_results
from vlkit.tasks.context import EvalContext, StepContext


@dataclass
class ZeroShotRunConfig(RunConfig):
    """``templates``: prompts with ``{}`` for the class name; ``rerank_k``: ITM re-ranks the ITC top-k (0: off)."""

    templates: list[str] = field(default_factory=lambda: list(DEFAULT_TEMPLATES))
    rerank_k: int = 0
    text_batch_size: int = 256
    train_splits: list[str] = field(default_factory=list)

    @staticmethod
    def check_values(node: object, key_path: str, source: str) -> None:
        try:
            check_templates(list(node.templates))
        except ValueError as err:
            raise ConfigError(f"{source}: {key_path}.templates: {err}") from None
        if node.rerank_k < 0:
            raise ConfigError(f"{source}: {key_path}.rerank_k must be 0 (off) or positive, got {node.rerank_k}.")


@registry.register_task("zero_shot_classification")
class ZeroShotClassificationTask(BaseTask):
    """Evaluate-only: every image against every class of its split (``dataset.class_names``)."""

    RUN_CONFIG = ZeroShotRunConfig

    def __init__(self, cfg: Any = None) -> None:
        super().__init__(cfg)
        self._classifier: ZeroShotClassifier | None = None
        self._built_for: tuple[int, int] | None = None

    def train_step(self, model: nn.Module, samples: dict, ctx: StepContext | None = None) -> Any:
        raise ConfigError(
            "zero_shot_classification does not train: set run.train_splits: [] and evaluate (vlkit evaluate)."
        )

    def classifier(self, model: nn.Module, dataset: Any) -> ZeroShotClassifier:
        """The classifier for this model and evaluation split (class embeddings computed once per split)."""
        model = unwrap(model)
        key = (id(model), id(dataset))
        if self._classifier is None or self._built_for != key:
            names = getattr(dataset, "class_names", None)
            if not names:
                raise ConfigError(
                    "zero_shot_classification needs a dataset whose splits carry class_names "
                    "(the image_folder builder: one sub-folder per class)."
                )
            r = self.run_cfg
            self._classifier = ZeroShotClassifier(
                model, names, list(r.templates), rerank_k=r.rerank_k, text_batch_size=r.text_batch_size
            )
            self._built_for = key
        return self._classifier

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        clf = self.classifier(model, ctx.dataset)
        ranking = clf.classify(samples["image"]).ranking[:, :5].tolist()
        return [
            {"image_id": int(i), "prediction": top[0], "top5": top, "target": int(t)}
            for i, top, t in zip(samples["image_id"], ranking, samples["label"], strict=True)
        ]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        from vlkit.metrics import classification_accuracy

        results = dedupe(results, "image_id")
        names = list(getattr(ctx.dataset, "class_names", []) or [])
        write_results(
            [{**r, "label": names[r["prediction"]]} if names else r for r in results], ctx.result_dir, ctx.result_name
        )
        if not results:
            return {}
        metrics = classification_accuracy([r["prediction"] for r in results], [r["target"] for r in results])
        if len(names) > 5:
            metrics["top5_accuracy"] = 100.0 * sum(r["target"] in r["top5"] for r in results) / len(results)
        metrics["num_classes"] = float(len(names))
        metrics["chance_accuracy"] = 100.0 / len(names) if names else 0.0
        return metrics

"""The tiny encoders' warm start as two tasks: ``warm_start_vision`` and ``warm_start_text``.

BLIP never trains its encoders from random weights: the ViT comes from ImageNet classification and the
text transformer from BERT's masked-language modelling. These tasks give a ``tiny`` model the same kind of
start on the shapes world's warm-start scenes (:mod:`vlkit.data.builders.warm_start`), each a normal runner
job (``vlkit/configs/warm_start/``): ``warm_start_vision`` trains ``blip_warm_start_vision`` (a supervised
scene read-out) and ``warm_start_text`` trains ``blip_warm_start_text`` (MLM through MED's LM head + the
paraphrase term). Training is the model's loss; evaluation measures the held-out scenes (the ``val``
split). The pipeline stage kind ``warm_start`` runs both and joins their weights into a ``tiny`` BLIP's
``model.pretrained`` (:mod:`vlkit.pipelines.warm_start`).
"""

from __future__ import annotations

import torch
from torch import nn

from vlkit.common.config import Config
from vlkit.common.registry import registry
from vlkit.models.blip.warm_start_text import paraphrase_contrastive_loss
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import unwrap, write_results
from vlkit.tasks.context import EvalContext

HELD_OUT_SEED = 12345  # the held-out captions' picks and masks: the same in every evaluation of a batch


@registry.register_task("warm_start_vision")
class WarmStartVisionTask(BaseTask):
    """Trains the scene read-out (the model's loss); evaluates its accuracies on held-out scenes.

    Metrics: ``cell`` (the top-scored cell holds an object), ``colour``/``shape``/``size`` (over the occupied
    cells), ``background``; ``agg_metrics`` is their mean.
    """

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        hits = unwrap(model).scene_hits(samples)
        return [{"name": name, "correct": correct, "scored": scored} for name, (correct, scored) in hits.items()]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        correct: dict[str, int] = {}
        scored: dict[str, int] = {}
        for r in results:
            correct[r["name"]] = correct.get(r["name"], 0) + r["correct"]
            scored[r["name"]] = scored.get(r["name"], 0) + r["scored"]
        metrics = {name: correct[name] / max(1, scored[name]) for name in correct}
        metrics["agg_metrics"] = sum(metrics.values()) / max(1, len(metrics))
        write_results({"metrics": metrics}, ctx.result_dir, ctx.result_name)
        return metrics


@registry.register_task("warm_start_text")
class WarmStartTextTask(BaseTask):
    """Trains MLM + the paraphrase term (the model's loss); evaluates both on the held-out scenes' captions.

    Metrics: ``mlm_loss`` and ``mlm_acc`` over every masked held-out token (picks and masks drawn from
    :data:`HELD_OUT_SEED` and the batch's first scene); ``paraphrase_loss``, the contrastive loss over all
    held-out scenes at once (chance: ln of their number); ``cls_cosine``, the mean cosine between the [CLS]
    features of different scenes' first captions (1.0: [CLS] ignores the content). ``agg_metrics`` is
    ``-(mlm_loss + paraphrase_loss)``.

    Attributes:
        paraphrase_temp: ``model.paraphrase_temp``, the temperature of the held-out contrastive loss.
    """

    def __init__(self, cfg: Config | None = None) -> None:
        super().__init__(cfg)
        self.paraphrase_temp = float(cfg.model_cfg.get("paraphrase_temp", 0.1)) if cfg is not None else 0.1

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        model = unwrap(model)
        generator = torch.Generator().manual_seed(HELD_OUT_SEED + int(samples["image_id"][0]))
        out = model(samples, generator=generator)
        first = model.text_cls(samples)
        scored = int(out.mlm_scored)
        return [
            {
                "mlm_loss_sum": float(out.loss_mlm) * scored,
                "mlm_correct": int(out.mlm_correct),
                "mlm_scored": scored,
                "cls_a": out.cls_a.cpu(),
                "cls_b": out.cls_b.cpu(),
                "cls_first": first.cpu(),
            }
        ]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        scored = max(1, sum(r["mlm_scored"] for r in results))
        a, b, first = (torch.cat([r[key] for r in results]) for key in ("cls_a", "cls_b", "cls_first"))
        off_diagonal = ~torch.eye(len(first), dtype=torch.bool)
        metrics = {
            "mlm_loss": sum(r["mlm_loss_sum"] for r in results) / scored,
            "mlm_acc": sum(r["mlm_correct"] for r in results) / scored,
            "paraphrase_loss": float(paraphrase_contrastive_loss(a, b, self.paraphrase_temp)),
            "cls_cosine": float((first @ first.T)[off_diagonal].mean()) if len(first) > 1 else 1.0,
        }
        metrics["agg_metrics"] = -(metrics["mlm_loss"] + metrics["paraphrase_loss"])
        write_results({"metrics": metrics}, ctx.result_dir, ctx.result_name)
        return metrics


__all__ = ["HELD_OUT_SEED", "WarmStartTextTask", "WarmStartVisionTask"]

"""``example_colour_classification``: the model's loss for training, accuracy for evaluation."""

from __future__ import annotations

from torch import nn

from vlkit.common.registry import registry
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import unwrap
from vlkit.tasks.context import EvalContext


@registry.register_task("example_colour_classification")
class ColourClassificationTask(BaseTask):
    """Training uses the base task's step (the model's forward); evaluation scores ``model.predict``."""

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        predictions = unwrap(model).predict(samples)
        return [{"correct": int(p == t)} for p, t in zip(predictions.tolist(), samples["label"].tolist(), strict=True)]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        accuracy = super().after_evaluation(results, ctx).get("correct", 0.0)
        return {"accuracy": 100.0 * accuracy, "agg_metrics": 100.0 * accuracy}

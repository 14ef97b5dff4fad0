"""NLVR² (task ``nlvr``, for the ``blip_nlvr`` model): two images and a statement, true/false accuracy."""

from __future__ import annotations

from torch import nn

from vlkit.common.registry import registry
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import unwrap, write_results
from vlkit.tasks.context import EvalContext


@registry.register_task("nlvr")
class MultimodalClassificationTask(BaseTask):
    """Cross-entropy fine-tuning (the model's forward); evaluation scores ``model.predict`` by accuracy."""

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        out = unwrap(model).predict(samples)
        return [
            {"prediction": int(p), "target": int(t)} for p, t in zip(out["predictions"], out["targets"], strict=True)
        ]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        from vlkit.metrics import classification_accuracy

        write_results(results, ctx.result_dir, ctx.result_name)
        if not results:
            return {}
        return classification_accuracy([r["prediction"] for r in results], [r["target"] for r in results])


registry.of("task").alias("multimodal_classification", "nlvr")  # the LAVIS name, until the next release

"""NLVR² (``multimodal_classification``): two images and a statement, true/false accuracy."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from vlkit.common.registry import registry
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import unwrap, write_results


@registry.register_task("multimodal_classification")
class MultimodalClassificationTask(BaseTask):
    """Cross-entropy fine-tuning (the model's forward); evaluation scores ``model.predict`` by accuracy."""

    def valid_step(self, model: nn.Module, samples: dict) -> list[dict]:
        out = unwrap(model).predict(samples)
        return [
            {"prediction": int(p), "target": int(t)} for p, t in zip(out["predictions"], out["targets"], strict=True)
        ]

    def after_evaluation(self, results: list[dict], split: str, output_dir: Path | None) -> dict[str, float]:
        from vlkit.metrics import classification_accuracy

        write_results(results, output_dir, f"{split}{self.epoch_tag}")
        if not results:
            return {}
        return classification_accuracy([r["prediction"] for r in results], [r["target"] for r in results])

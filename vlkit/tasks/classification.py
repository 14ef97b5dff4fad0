"""NLVR² (``multimodal_classification``) and discriminative VisDial (``dialogue``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from vlkit.common.registry import registry
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import unwrap, write_results


@registry.register_task("multimodal_classification")
class MultimodalClassificationTask(BaseTask):
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


@registry.register_task("dialogue")
class DialogueTask(BaseTask):
    """VisDial: rank the 100 answer options of each round (MRR, R@1/5/10, mean rank, NDCG)."""

    @torch.no_grad()
    def evaluation(self, model: nn.Module, data_loader: Iterable, split: str) -> dict[str, float]:
        self.eval_dataset = data_loader.dataset
        return super().evaluation(model, data_loader, split)

    def valid_step(self, model: nn.Module, samples: dict) -> list[dict]:
        scores = unwrap(model).score_options(samples)
        return [
            {"image_id": int(i), "round_id": int(r), "gt_index": int(g), "scores": s.tolist()}
            for i, r, g, s in zip(samples["image_id"], samples["round_id"], samples["gt_index"], scores, strict=True)
        ]

    def after_evaluation(self, results: list[dict], split: str, output_dir: Path | None) -> dict[str, float]:
        from vlkit.metrics import visdial_metrics

        write_results(results, output_dir, f"{split}{self.epoch_tag}")
        if not results:
            return {}
        scores = torch.tensor([r["scores"] for r in results])
        dense = getattr(self.eval_dataset, "dense_annotations", {}) or {}
        rows = [i for i, r in enumerate(results) if (r["image_id"], r["round_id"]) in dense]
        if rows:
            relevance = torch.tensor([dense[(results[i]["image_id"], results[i]["round_id"])] for i in rows])
            return visdial_metrics(scores, [r["gt_index"] for r in results], scores[rows], relevance)
        return visdial_metrics(scores, [r["gt_index"] for r in results])

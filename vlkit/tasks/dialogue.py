"""Discriminative VisDial (task ``dialog``, for the ``blip_dialog`` model): rank the 100 answer options per round."""

from __future__ import annotations

import torch
from torch import nn

from vlkit.common.registry import registry
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import unwrap, write_results
from vlkit.tasks.context import EvalContext


@registry.register_task("dialog")
class DialogueTask(BaseTask):
    """MRR, R@1/5/10 and mean rank over every round; NDCG on the rounds with dense relevance (val)."""

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        scores = unwrap(model).score_options(samples)
        return [
            {"image_id": int(i), "round_id": int(r), "gt_index": int(g), "scores": s.tolist()}
            for i, r, g, s in zip(samples["image_id"], samples["round_id"], samples["gt_index"], scores, strict=True)
        ]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        from vlkit.metrics import visdial_metrics

        write_results(results, ctx.result_dir, ctx.result_name)
        if not results:
            return {}
        scores = torch.tensor([r["scores"] for r in results])
        gt_index = [r["gt_index"] for r in results]
        # dense relevance is keyed (image_id, round_id) with 1-based rounds, as the official file
        dense = getattr(ctx.dataset, "dense_annotations", None) or {}
        rows = [i for i, r in enumerate(results) if (r["image_id"], r["round_id"]) in dense]
        if not rows:
            return visdial_metrics(scores, gt_index)
        relevance = torch.tensor([dense[(results[i]["image_id"], results[i]["round_id"])] for i in rows])
        return visdial_metrics(scores, gt_index, scores[rows], relevance)


registry.of("task").alias("dialogue", "dialog")  # the former name, until the next release

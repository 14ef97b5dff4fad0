"""VQA (and zero-shot video QA): weighted answer LM training; answers ranked over the answer list (or generated)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from torch import nn

from vlkit.common.config import RunConfig
from vlkit.common.registry import registry
from vlkit.models.decoding import GenerationConfig
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import dedupe, unwrap, write_results
from vlkit.tasks.context import EvalContext
from vlkit.tasks.submission import VQA_SUBMISSION, write_submission


def vqa_generation() -> GenerationConfig:
    """BLIP's answer decoding for ``inference_method: generate``: beam 3, max 10, min 1."""
    return GenerationConfig(num_beams=3, max_length=10, min_length=1)


@dataclass
class VQARunConfig(RunConfig):
    """``inference_method``: ``rank`` (over the answer list) or ``generate`` (decoded with ``generation``)."""

    DEPRECATED_KEYS: ClassVar[dict[str, str | None]] = {
        "num_beams": "generation.num_beams",
        "max_len": "generation.max_length",
        "min_len": "generation.min_length",
        "length_normalization": "generation.length_normalization",
    }

    inference_method: str = "rank"  # rank | generate
    num_ans_candidates: int = 128
    generation: GenerationConfig = field(default_factory=vqa_generation)

    @staticmethod
    def check_values(node: object, key_path: str, source: str) -> None:
        GenerationConfig.check(node.generation, f"{key_path}.generation", source)


@registry.register_task("vqa")
class VQATask(BaseTask):
    RUN_CONFIG = VQARunConfig

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        r = self.run_cfg
        answers = unwrap(model).predict_answers(
            samples,
            inference_method=r.inference_method,
            answer_list=getattr(ctx.dataset, "answer_list", None),
            num_ans_candidates=r.num_ans_candidates,
            generation_config=GenerationConfig.from_node(r.generation),
        )
        return [{"question_id": int(q), "answer": a} for q, a in zip(samples["question_id"], answers, strict=True)]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        from vlkit.metrics import vqa_accuracy

        results = dedupe(results, "question_id")
        write_results(results, ctx.result_dir, ctx.result_name)
        annotations = ctx.dataset.annotations_for_eval()
        if not annotations:  # test-dev / test-std: no answers here, the file is for the evaluation server
            entries = getattr(ctx.dataset, "annotation", None)
            expected = None if entries is None else [int(e.get("question_id", i)) for i, e in enumerate(entries)]
            write_submission(results, ctx.result_dir, ctx.result_name, VQA_SUBMISSION, expected)
            return {}
        return vqa_accuracy(results, annotations)

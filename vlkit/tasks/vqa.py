"""VQA (and zero-shot video QA): weighted answer LM training; answers ranked over the answer list (or generated)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from vlkit.common.config import RunConfig
from vlkit.common.registry import registry
from vlkit.models.decoding import check_length_normalization
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import dedupe, unwrap, write_results
from vlkit.tasks.submission import VQA_SUBMISSION, write_submission


@dataclass
class VQARunConfig(RunConfig):
    inference_method: str = "rank"  # rank | generate
    num_ans_candidates: int = 128
    num_beams: int = 3
    max_len: int = 10
    min_len: int = 1
    length_normalization: str = "full"  # generate's beam scoring: full (the original code's) | generated

    @staticmethod
    def check_values(node: object, key_path: str, source: str) -> None:
        check_length_normalization(node.length_normalization, f"{key_path}.length_normalization", source)


@registry.register_task("vqa")
class VQATask(BaseTask):
    RUN_CONFIG = VQARunConfig

    def valid_step(self, model: nn.Module, samples: dict) -> list[dict]:
        r = self.run_cfg
        answers = unwrap(model).predict_answers(
            samples,
            inference_method=r.inference_method,
            answer_list=getattr(self.eval_dataset, "answer_list", None),
            num_ans_candidates=r.num_ans_candidates,
            num_beams=r.num_beams,
            max_len=r.max_len,
            min_len=r.min_len,
            length_normalization=r.length_normalization,
        )
        return [{"question_id": int(q), "answer": a} for q, a in zip(samples["question_id"], answers, strict=True)]

    def after_evaluation(self, results: list[dict], split: str, output_dir: Path | None) -> dict[str, float]:
        from vlkit.metrics import vqa_accuracy

        results = dedupe(results, "question_id")
        write_results(results, output_dir, f"{split}{self.epoch_tag}")
        annotations = self.eval_dataset.annotations_for_eval()
        if not annotations:  # test-dev / test-std: no answers here, the file is for the evaluation server
            entries = getattr(self.eval_dataset, "annotation", None)
            expected = None if entries is None else [int(e.get("question_id", i)) for i, e in enumerate(entries)]
            write_submission(results, output_dir, f"{split}{self.epoch_tag}", VQA_SUBMISSION, expected)
            return {}
        return vqa_accuracy(results, annotations)

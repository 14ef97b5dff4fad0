"""Captioning: LM fine-tuning, beam-search generation, COCO caption metrics (BLEU, METEOR, ROUGE-L, CIDEr)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from vlkit.common.config import RunConfig
from vlkit.common.registry import registry
from vlkit.models.decoding import check_length_normalization
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.common import dedupe, unwrap, write_results
from vlkit.tasks.submission import CAPTION_SUBMISSION, write_submission


@dataclass
class CaptionRunConfig(RunConfig):
    """Decoding at evaluation (BLIP: beam 3, max 20, min 5 — lengths count the prompt).

    ``length_normalization``: ``full`` (the original code's beam scoring, over the prompt too) or ``generated``
    (transformers 5's, over the generated tokens). ``repetition_penalty: null`` is BLIP's per decoding mode
    (1.0 for beam search, 1.1 for sampling); the original NoCaps evaluation used 1.1 with beam search.
    """

    max_len: int = 20
    min_len: int = 5
    num_beams: int = 3
    use_nucleus_sampling: bool = False
    length_normalization: str = "full"
    repetition_penalty: float | None = None
    spice: bool = False
    caption_tokenizer: str = "ptb"  # "simple": no Java needed, not the official protocol (docs/metrics.md)
    best_metric: str = "agg_metrics"

    @staticmethod
    def check_values(node: object, key_path: str, source: str) -> None:
        check_length_normalization(node.length_normalization, f"{key_path}.length_normalization", source)


@registry.register_task("captioning")
class CaptionTask(BaseTask):
    RUN_CONFIG = CaptionRunConfig

    def valid_step(self, model: nn.Module, samples: dict) -> list[dict]:
        r = self.run_cfg
        captions = unwrap(model).generate(
            samples,
            use_nucleus_sampling=r.use_nucleus_sampling,
            num_beams=r.num_beams,
            max_length=r.max_len,
            min_length=r.min_len,
            length_normalization=r.length_normalization,
            repetition_penalty=r.repetition_penalty,
        )
        return [{"image_id": int(i), "caption": c} for i, c in zip(samples["image_id"], captions, strict=True)]

    def after_evaluation(self, results: list[dict], split: str, output_dir: Path | None) -> dict[str, float]:
        from vlkit.metrics import coco_caption_eval

        results = dedupe(results, "image_id")
        write_results(results, output_dir, f"{split}{self.epoch_tag}")
        if not results or not hasattr(self.eval_dataset, "coco_gt"):
            return {}
        if not getattr(self.eval_dataset, "has_references", lambda: True)():  # e.g. NoCaps test: for the server
            expected = [self.eval_dataset.coco_id(e) for e in self.eval_dataset.annotation]
            write_submission(results, output_dir, f"{split}{self.epoch_tag}", CAPTION_SUBMISSION, expected)
            return {}
        r = self.run_cfg
        return coco_caption_eval(results, self.eval_dataset.coco_gt(), spice=r.spice, tokenizer=r.caption_tokenizer)

"""Captioning: LM fine-tuning, beam-search generation, COCO caption metrics (BLEU, METEOR, ROUGE-L, CIDEr)."""

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
from vlkit.tasks.submission import CAPTION_SUBMISSION, write_submission


def caption_generation() -> GenerationConfig:
    """BLIP's caption decoding: beam 3, max 20, min 5 (lengths count the prompt), BLIP's per-mode penalty."""
    return GenerationConfig(num_beams=3, max_length=20, min_length=5, top_k=None, repetition_penalty=None)


# the flat decoding keys of earlier releases, now under run.generation
GENERATION_KEYS: dict[str, str] = {
    "max_len": "generation.max_length",
    "min_len": "generation.min_length",
    "num_beams": "generation.num_beams",
    "use_nucleus_sampling": "generation.use_nucleus_sampling",
    "length_normalization": "generation.length_normalization",
    "repetition_penalty": "generation.repetition_penalty",
}


@dataclass
class CaptionRunConfig(RunConfig):
    """Decoding at evaluation: ``generation`` (a :class:`GenerationConfig`; BLIP: beam 3, max 20, min 5).

    ``generation.length_normalization``: ``full`` (the original code's beam scoring, over the prompt too) or
    ``generated`` (transformers 5's). ``generation.repetition_penalty: null`` is BLIP's per decoding mode (1.0
    for beam search, 1.1 for sampling); the original NoCaps evaluation used 1.1 with beam search.
    """

    DEPRECATED_KEYS: ClassVar[dict[str, str | None]] = GENERATION_KEYS

    generation: GenerationConfig = field(default_factory=caption_generation)
    spice: bool = False
    caption_tokenizer: str = "ptb"  # "simple": no Java needed, not the official protocol (docs/metrics.md)
    best_metric: str = "agg_metrics"

    @staticmethod
    def check_values(node: object, key_path: str, source: str) -> None:
        GenerationConfig.check(node.generation, f"{key_path}.generation", source)


@registry.register_task("captioning")
class CaptionTask(BaseTask):
    RUN_CONFIG = CaptionRunConfig

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        generation = GenerationConfig.from_node(self.run_cfg.generation)
        captions = unwrap(model).generate(samples, generation_config=generation)
        return [{"image_id": int(i), "caption": c} for i, c in zip(samples["image_id"], captions, strict=True)]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        from vlkit.metrics import coco_caption_eval

        results = dedupe(results, "image_id")
        write_results(results, ctx.result_dir, ctx.result_name)
        if not results or not hasattr(ctx.dataset, "coco_gt"):
            return {}
        if not getattr(ctx.dataset, "has_references", lambda: True)():  # e.g. NoCaps test: for the server
            expected = [ctx.dataset.coco_id(e) for e in ctx.dataset.annotation]
            write_submission(results, ctx.result_dir, ctx.result_name, CAPTION_SUBMISSION, expected)
            return {}
        r = self.run_cfg
        return coco_caption_eval(results, ctx.dataset.coco_gt(), spice=r.spice, tokenizer=r.caption_tokenizer)

"""The ``warm_start`` stage: the tiny encoders' unimodal start (the miniature of BLIP's ImageNet ViT + BERT).

A ``warm_start:`` section (:class:`WarmStartConfig`) becomes two runner jobs of the recipes in
``vlkit/configs/warm_start/``: ``warm_start_vision`` (the ViT reads out the scenes) and ``warm_start_text``
(MLM + the paraphrase term), each evaluated on the held-out scenes before and after training. Their
weights are joined into one ``.safetensors`` file of ``visual_encoder.*``, ``text_encoder.*`` and
``text_decoder.{bert,cls}.*``, the ``model.pretrained`` (``model.load_pretrained: true``) of any ``tiny`` BLIP
model, with a JSON report beside it. The jobs' directories are ``<out stem>_jobs/`` next to it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vlkit.common.config import Config, ConfigError

logger = logging.getLogger(__name__)

RECIPES = {"vision": "configs/warm_start/vision.yaml", "text": "configs/warm_start/text.yaml"}
DATASETS = {"vision": "warm_start_scenes", "text": "warm_start_captions"}
HELD_OUT_SPLIT = "val"


@dataclass
class WarmStartConfig:
    """The ``warm_start:`` section of a warm-start YAML."""

    scenes: int = 4000  # freshly drawn scenes (5 captions each); the last ``held_out`` only measure
    held_out: int = 500
    vision_steps: int = 400
    text_steps: int = 400
    batch_size: int = 128
    lr: float = 2e-3
    paraphrase_weight: float = 1.0  # the text [CLS] contrastive term (0 = MLM only)
    specific_captions: bool = False  # human-style captions as the world's (``world.specific_captions``)
    image_size: int = 64  # the tiny models' input size
    max_objects: int = 4  # as the world the models will see
    seed: int = 0
    device: str = "auto"

    def check(self, source: str) -> None:
        """Reject a section no warm start can run, naming ``source``.

        Raises:
            ConfigError: for too few scenes, or a step count, batch size or lr out of range.
        """
        if self.scenes <= self.held_out or self.held_out < 1:
            raise ConfigError(f"{source}: warm_start.scenes must exceed warm_start.held_out (>= 1).")
        if min(self.vision_steps, self.text_steps) < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ConfigError(f"{source}: warm_start needs steps >= 1, batch_size >= 1 and lr > 0.")


def _value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def job_options(cfg: WarmStartConfig, objective: str, jobs_dir: Path) -> list[str]:
    """``--options`` that turn the recipe of ``objective`` (``vision``/``text``) into this section's job."""
    steps = cfg.vision_steps if objective == "vision" else cfg.text_steps
    data = f"datasets.{DATASETS[objective]}"
    scene_keys = ("scenes", "held_out", "seed", "max_objects", "specific_captions")
    opts = [f"{data}.{key}={_value(getattr(cfg, key))}" for key in scene_keys]
    opts += [
        f"model.image_size={cfg.image_size}",
        f"run.max_iters={steps}",
        f"run.batch_size_train={cfg.batch_size}",
        f"run.init_lr={cfg.lr}",
        f"run.seed={cfg.seed}",
        f"run.device={cfg.device}",
        f"run.output_dir={jobs_dir}",
    ]
    if objective == "vision":
        opts += [f"{data}.vis_processor.{split}.image_size={cfg.image_size}" for split in ("train", "eval")]
    else:
        opts.append(f"model.paraphrase_weight={cfg.paraphrase_weight}")
    return opts


def run_objective(cfg: WarmStartConfig, objective: str, jobs_dir: Path) -> tuple[dict[str, Any], Path]:
    """Evaluate the fresh model, train it, evaluate again: ``({"before", "after"}, the last checkpoint)``."""
    from vlkit.runners.job import run_job

    opts = job_options(cfg, objective, jobs_dir)
    before = run_job(Config(RECIPES[objective], [*opts, f"run.job_name={objective}_before"]), evaluate_only=True)
    # resumed from its last checkpoint when the stage is run again after an interruption
    after = run_job(Config(RECIPES[objective], [*opts, f"run.job_name={objective}", "run.resume_ckpt_path=auto"]))

    def held_out(summary: dict[str, Any]) -> dict[str, float]:
        metrics = summary["metrics"][HELD_OUT_SPLIT]
        return {k: round(v, 3) for k, v in metrics.items() if k != "agg_metrics"}

    report = {"before": held_out(before), "after": held_out(after)}
    logger.info("warm start %s: held-out %s -> %s", objective, report["before"], report["after"])
    return report, Path(after["last_checkpoint"])


def run_warm_start(cfg: WarmStartConfig, out: str | Path) -> dict[str, Any]:
    """Train both halves and write ``out`` (safetensors) and ``out`` with ``.json`` (the report)."""
    from safetensors.torch import save_file

    from vlkit.models.blip.warm_start import warm_state_dict
    from vlkit.runners.checkpointing import load_checkpoint_file

    start = time.time()
    path = Path(out)
    jobs_dir = path.parent / f"{path.stem}_jobs"
    vision, vision_ckpt = run_objective(cfg, "vision", jobs_dir)
    text, text_ckpt = run_objective(cfg, "text", jobs_dir)
    weights = warm_state_dict(load_checkpoint_file(vision_ckpt)["model"], load_checkpoint_file(text_ckpt)["model"])
    report = {"config": asdict(cfg), "vision": vision, "text": text, "seconds": round(time.time() - start, 1)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(path), metadata={"vlkit_warm_start": "blip tiny"})
    path.with_suffix(".json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return {**report, "checkpoint": str(path), "jobs_dir": str(jobs_dir)}


__all__ = ["WarmStartConfig", "job_options", "run_objective", "run_warm_start"]

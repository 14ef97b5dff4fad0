"""The ``README.md`` model card written by ``save_pretrained`` / ``push_to_hub``.

It says what the model is (architecture, shapes, how to load it with vlkit and transformers), how it was
trained (from a vlkit job directory's ``config.yaml`` when given, else the weights it was loaded from), the
metrics of its last evaluation (the last ``eval`` record of the job's ``log.jsonl``, or metrics passed in),
and the BLIP citation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BLIP_CITATION = """@inproceedings{li2022blip,
  title     = {{BLIP}: Bootstrapping Language-Image Pre-training for Unified Vision-Language Understanding and
               Generation},
  author    = {Li, Junnan and Li, Dongxu and Xiong, Caiming and Hoi, Steven},
  booktitle = {Proceedings of the 39th International Conference on Machine Learning (ICML)},
  year      = {2022}
}"""

# transformers arch -> (what it does, Hub pipeline tag, transformers class)
_ARCH_INFO = {
    "caption": ("image captioning", "image-to-text", "BlipForConditionalGeneration"),
    "retrieval": ("image-text matching and retrieval (ITM + ITC)", None, "BlipForImageTextRetrieval"),
    "vqa": ("visual question answering", "visual-question-answering", "BlipForQuestionAnswering"),
}
# run: keys worth repeating in the card, in this order
_RUN_KEYS = ("task", "max_epoch", "max_iters", "init_lr", "batch_size_train", "weight_decay", "amp", "seed")


@dataclass
class TrainingRecord:
    """What a card says about training and evaluation; see :func:`read_job`."""

    source: str = ""
    run: dict[str, Any] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)
    started_from: str | None = None
    eval_split: str | None = None
    eval_step: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def read_job(job_dir: str | Path) -> TrainingRecord:
    """Training settings (``config.yaml``) and the last evaluation (``log.jsonl``) of a vlkit job directory.

    Raises:
        FileNotFoundError: when ``job_dir`` has neither file.
    """
    import yaml

    job = Path(job_dir)
    cfg_path, log_path = job / "config.yaml", job / "log.jsonl"
    if not cfg_path.is_file() and not log_path.is_file():
        raise FileNotFoundError(
            f"{job} is not a vlkit job directory (no config.yaml or log.jsonl); pass the run's output directory "
            f"(run.output_dir/...) as job_dir=, or the metrics themselves as metrics=."
        )
    record = TrainingRecord(source=str(job))
    if cfg_path.is_file():
        cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
        run = cfg.get("run") or {}
        record.run = {k: run[k] for k in _RUN_KEYS if run.get(k) not in (None, "") and (k, run[k]) != ("max_iters", 0)}
        record.datasets = sorted(cfg.get("datasets") or {})
        model = cfg.get("model") or {}
        if model.get("load_finetuned") and model.get("finetuned"):
            record.started_from = str(model["finetuned"])
        elif model.get("load_pretrained") and model.get("pretrained"):
            record.started_from = str(model["pretrained"])
    if log_path.is_file():
        evals = [
            r for r in map(json.loads, log_path.read_text(encoding="utf-8").splitlines()) if r.get("type") == "eval"
        ]
        if evals:
            last = evals[-1]
            record.eval_split, record.eval_step = last.get("split"), last.get("step")
            skip = {"type", "step", "time", "epoch", "split"}
            record.metrics = {k: v for k, v in last.items() if k not in skip and isinstance(v, int | float)}
    return record


def _front_matter(arch: str) -> str:
    _, pipeline, _ = _ARCH_INFO[arch]
    tags = [
        "blip",
        "vlkit",
        "vision-language",
        {"caption": "image-captioning", "retrieval": "image-text-matching", "vqa": "visual-question-answering"}[arch],
    ]
    lines = ["---", "library_name: vlkit", "license: bsd-3-clause"]
    if pipeline:
        lines.append(f"pipeline_tag: {pipeline}")
    lines += ["tags:"] + [f"- {t}" for t in tags] + ["---"]
    return "\n".join(lines)


def _shape(model: Any) -> str:
    vis = model.visual_encoder.cfg
    text = model.text_decoder.config if hasattr(model, "text_decoder") else model.text_encoder.config
    return (
        f"ViT ({vis.width} wide, {vis.depth} blocks, patch {vis.patch_size}) at {vis.image_size} px and a MED text "
        f"transformer ({text.hidden_size} wide, {text.num_layers} layers, {text.num_heads} heads)"
    )


def _training_section(model: Any, record: TrainingRecord | None) -> list[str]:
    cfg = model.config
    lines = ["## Training", ""]
    if record is not None and (record.run or record.datasets):
        lines.append(f"Trained with `vlkit train` (job `{record.source}`).")
        lines.append("")
        if record.started_from:
            lines.append(f"- started from: `{record.started_from}`")
        if record.datasets:
            lines.append(f"- datasets: {', '.join(f'`{d}`' for d in record.datasets)}")
        lines += [f"- `run.{k}`: {v}" for k, v in record.run.items()]
    elif getattr(cfg, "load_finetuned", False) and getattr(cfg, "finetuned", None):
        lines.append(f"Weights of vlkit's `{cfg.arch}` / `{cfg.model_type}`, loaded from `{cfg.finetuned}`.")
    else:
        lines.append(
            "Not recorded: pass `job_dir=` (the vlkit job that trained it) to `save_pretrained`/`push_to_hub` "
            "to describe it here."
        )
    return lines + [""]


def _eval_section(record: TrainingRecord | None) -> list[str]:
    lines = ["## Evaluation", ""]
    if record is None or not record.metrics:
        return lines + ["No evaluation recorded with this model.", ""]
    where = f" on the `{record.eval_split}` split" if record.eval_split else ""
    step = f" (step {record.eval_step})" if record.eval_step is not None else ""
    lines += [f"Last evaluation{where}{step}:", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} | {v:.4g} |" for k, v in record.metrics.items()]
    return lines + [""]


def model_card(model: Any, arch: str, repo_id: str | None = None, record: TrainingRecord | None = None) -> str:
    """The card's Markdown for ``model`` exported as transformers ``arch`` (``caption``/``retrieval``/``vqa``).

    Args:
        model: the vlkit model.
        arch: its transformers arch (:func:`vlkit.models.export.transformers_arch`).
        repo_id: the Hub repository (used in the loading example; a placeholder path otherwise).
        record: training and evaluation, from :func:`read_job` or built by the caller.
    """
    what, _, hf_class = _ARCH_INFO[arch]
    cfg = model.config
    where = repo_id or "path/to/this/directory"
    title = repo_id.split("/")[-1] if repo_id else f"{cfg.arch} ({cfg.model_type})"
    lines = [
        _front_matter(arch),
        "",
        f"# {title}",
        "",
        f"A BLIP model for {what}, saved by vlkit from its `{cfg.arch}` model "
        f"(type `{cfg.model_type}`): a {_shape(model)}.",
        "",
        "The files are in transformers' BLIP layout (`config.json`, `model.safetensors`), plus `vlkit.yaml`, the "
        "vlkit model config.",
        "",
        "```python",
        "from vlkit.models import load_model",
        f'model = load_model("{cfg.arch}", "{cfg.model_type}", checkpoint="{where}", is_eval=True)',
        "",
        "import transformers",
        f'hf_model = transformers.{hf_class}.from_pretrained("{where}")',
        "```",
        "",
    ]
    if arch in ("retrieval", "vqa"):
        token = "[ENC] (id 30523)" if arch == "vqa" or cfg.itm_first_token == "enc" else "[CLS] (id 101)"
        lines += [
            f"transformers does not swap the first text token itself: to match vlkit, put {token} first in the "
            f"{'question' if arch == 'vqa' else 'text'} ids.",
            "",
        ]
    lines += _training_section(model, record)
    lines += _eval_section(record)
    lines += ["## Citation", "", "```bibtex", BLIP_CITATION, "```", ""]
    return "\n".join(lines)

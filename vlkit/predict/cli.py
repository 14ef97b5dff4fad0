"""``vlkit predict caption|vqa|itm|embed|classify --model NAME:TYPE --input ... --out ...`` (docs/predict.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DTYPES = ("float32", "bfloat16", "float16")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``vlkit predict``."""
    from vlkit.predict.verbs import VERBS

    parser.add_argument("verb", choices=list(VERBS), help="what to compute for each image")
    parser.add_argument("--model", help="NAME[:TYPE], e.g. blip_caption:base_coco (`vlkit list models`)")
    parser.add_argument(
        "--checkpoint",
        help="weights to load (.pth, .safetensors, transformers dir); a save_checkpoint .safetensors needs no --model",
    )
    parser.add_argument("--model-options", nargs="+", default=[], help="model config overrides, e.g. image_size=224")
    parser.add_argument("--input", required=True, help="a folder of images, a .json list, or 'shards/{000..009}.tar'")
    parser.add_argument("--image-root", help="what the .json list's image paths are relative to (default: its folder)")
    parser.add_argument("--out", required=True, help="results .jsonl (embed: a .safetensors file)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per forward pass")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader processes reading and decoding images")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--dtype", default="float32", help=f"model weights' dtype: {' | '.join(DTYPES)}")
    parser.add_argument(
        "--cpu-allocator", choices=("reuse", "system"), default="reuse", help="CPU: keep freed large blocks for reuse"
    )
    parser.add_argument("--progress", choices=("auto", "on", "off"), default="auto", help="progress bar")
    # caption
    parser.add_argument("--num-beams", type=int, default=3, help="caption/vqa: beam size")
    parser.add_argument("--max-length", type=int, default=30, help="caption: most tokens, prompt included")
    parser.add_argument("--min-length", type=int, default=10, help="caption: fewest tokens, prompt included")
    parser.add_argument("--nucleus", action="store_true", help="caption: nucleus sampling instead of beam search")
    parser.add_argument("--top-p", type=float, default=0.9, help="caption: nucleus sampling's p")
    parser.add_argument("--num-captions", type=int, default=1, help="caption: captions per image")
    # vqa / itm
    parser.add_argument("--question", help="vqa: the question for every image without its own")
    parser.add_argument("--answer-list", help="vqa: rank these answers (comma list or file) instead of generating")
    parser.add_argument("--texts", help="itm: texts to score every image against (comma list or file)")
    # classify
    parser.add_argument("--classes", help="classify: class names, comma-separated, or a file (one per line)")
    parser.add_argument(
        "--templates",
        help="classify: prompt templates with {}, '|'-separated or a file (default: 'a photo of a {}.' ...)",
    )
    parser.add_argument("--rerank-k", type=int, default=0, help="classify: re-rank the ITC top-k classes with ITM")
    parser.add_argument("--top-k", type=int, default=1, help="classify: classes listed per image")


def resolve_dtype(name: str) -> Any:
    """The torch dtype named ``name`` (``--dtype``)."""
    import torch

    if name not in DTYPES:
        raise ValueError(f"--dtype must be one of {', '.join(DTYPES)}, got {name!r}.")
    return getattr(torch, name)


def model_name_and_type(model: str | None, checkpoint: str | None) -> tuple[str, str]:
    """``(name, type)`` from ``--model NAME[:TYPE]``, or from the config saved beside a ``.safetensors`` checkpoint."""
    from omegaconf import OmegaConf

    from vlkit.common.registry import registry

    if model:
        name, _, model_type = model.partition(":")
        return name, model_type or str(registry.get_model_class(name).DEFAULT_MODEL_TYPE)
    side = Path(checkpoint).with_suffix(".yaml") if checkpoint else None
    if side is None or not side.is_file():
        raise ValueError(
            "pass --model NAME:TYPE (e.g. blip_caption:base_coco), or a --checkpoint saved with its .yaml."
        )
    saved = OmegaConf.load(side)
    saved = saved.model if "model" in saved else saved
    if saved.get("arch") in (None, "???") or saved.get("model_type") in (None, "???"):
        raise ValueError(f"{side} does not name the model's arch and model_type: pass --model NAME:TYPE.")
    return str(saved.arch), str(saved.model_type)


def load(args: argparse.Namespace) -> tuple[Any, Any]:
    """The model (eval mode, on ``--device``, in ``--dtype``: load_model checks the device can run it) and its
    eval image transform."""
    from vlkit.common.config import parse_options
    from vlkit.common.cpu_allocator import configure_cpu_allocator
    from vlkit.common.dist import resolve_device
    from vlkit.models import load_model_and_preprocess

    name, model_type = model_name_and_type(args.model, args.checkpoint)
    device, dtype = resolve_device(args.device, "--device"), resolve_dtype(args.dtype)
    configure_cpu_allocator(args.cpu_allocator, "--cpu-allocator", device)
    overrides = parse_options([f"{o}" for o in args.model_options])
    model, vis, _ = load_model_and_preprocess(
        name, model_type, is_eval=True, device=device, checkpoint=args.checkpoint, dtype=dtype, **overrides
    )
    if "eval" not in vis:
        raise ValueError(f"{name}:{model_type} has no eval image processor (model.preprocess.vis_processor.eval).")
    return model, vis["eval"]


def main(args: argparse.Namespace) -> int:
    """Run ``vlkit predict``; bad images are reported, never fatal (exit code 0)."""
    from vlkit.predict.inputs import open_inputs
    from vlkit.predict.runner import run_predict
    from vlkit.predict.verbs import VERBS
    from vlkit.predict.writer import EmbeddingWriter, JsonlWriter, bad_inputs_path

    verb_cls = VERBS[args.verb]
    if args.verb == "classify" and not args.classes:
        raise ValueError("`predict classify` needs --classes: class names ('cat,dog,bird') or a file, one per line.")
    inputs = open_inputs(args.input, args.image_root)
    out = Path(args.out).expanduser()
    writer = EmbeddingWriter(out) if verb_cls.writes_embeddings else JsonlWriter(out)
    model, transform = load(args)
    verb = verb_cls(model, args)
    bad_path = bad_inputs_path(out)
    summary = run_predict(verb, inputs, writer, transform, args.batch_size, args.workers, args.progress, bad_path)
    print(summary.text(out, bad_path))
    return 0


__all__ = ["add_arguments", "main", "model_name_and_type", "resolve_dtype"]

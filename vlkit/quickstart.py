"""``vlkit quickstart``: the BLIP story end to end on the built-in synthetic world, on a CPU.

A synthetic world in BLIP's proportions (human pairs ~10 % of pre-training, half the web texts noisy) →
the tiny encoders' warm start (the stand-in for ImageNet ViT + BERT) → pre-train a tiny BLIP on human +
noisy web pairs → fine-tune a captioner and a filter on the human pairs → CapFilt the web set (threshold
calibrated on held-out pairs) → pre-train a new model on the bootstrapped set for as many updates → fine-tune
and evaluate both models. Prints a side-by-side table (noisy vs bootstrapped) with the targets it is held
to, writes it as ``quickstart_results.json``, and shows a few images' web captions, synthetic captions and
filter verdicts. Every number comes from the run itself.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from vlkit.common.paths import resolve_config_path

DEFAULT_PIPELINE = "projects/blip/pipelines/quickstart.yaml"
# CI runs the same pipeline with these overrides: fewer steps, smaller eval, same code path.
SMOKE_OPTIONS = [
    "synth:world.coco_splits=[12,6,20]",
    "synth:world.num_web_images=64",
    "warm_start:warm_start.scenes=48",
    "warm_start:warm_start.held_out=8",
    "warm_start:warm_start.vision_steps=2",
    "warm_start:warm_start.text_steps=2",
    "warm_start:warm_start.batch_size=8",
    "train:run.max_epoch=1",
    "train:run.max_train_steps_per_epoch=3",
    "train:run.max_iters=3",
    "train:run.iters_per_inner_epoch=3",
    "train:run.max_eval_batches=1",
    "capfilt:capfilt.max_shards=1",
    "capfilt:capfilt.shard_size=32",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE, help="pipeline YAML to run")
    parser.add_argument("--output-dir", default="output/quickstart", help="where every stage writes its outputs")
    parser.add_argument("--smoke", action="store_true", help="a few steps per stage (what CI runs); numbers are noise")
    parser.add_argument("--options", nargs="+", default=[], help="extra '<stage|kind|*>:key=value' overrides")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="independent stages side by side, this many processes (vlkit run --jobs; default: 2 where there "
        "are 2 cores; 1 runs every stage in this process)",
    )


def _get(d: dict[str, Any] | None, *path: str) -> float | None:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return float(d) if isinstance(d, int | float) else None


def _fmt(x: float | None, scale: float = 1.0) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x * scale:.1f}"


ROWS = [  # label, noisy stage, bootstrapped stage, path in the stage result, scale
    ("retrieval TR@1 (%)", "retrieval_noisy", "retrieval_boot", ("metrics", "test", "txt_r1"), 1.0),
    ("retrieval IR@1 (%)", "retrieval_noisy", "retrieval_boot", ("metrics", "test", "img_r1"), 1.0),
    ("retrieval R mean (%)", "retrieval_noisy", "retrieval_boot", ("metrics", "test", "r_mean"), 1.0),
    ("caption CIDEr", "caption_noisy", "caption_boot", ("metrics", "test", "CIDEr"), 100.0),
    ("caption BLEU-4", "caption_noisy", "caption_boot", ("metrics", "test", "Bleu_4"), 100.0),
]


def summarise(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The quickstart's numbers and the targets they are held to (issue 17), from the stage results.

    Targets: both arms' TR@1 and IR@1 at least 5x chance (chance: 100 / test images %); the filter's
    score AUC >= 0.85, noise precision >= 1.5x the noise rate, >= 70 % of clean web texts kept; the
    bootstrapped arm above the noisy one on retrieval R mean and on CIDEr. ``None`` where a number is missing.
    """
    arms: dict[str, dict[str, float | None]] = {"noisy": {}, "bootstrapped": {}}
    for label, noisy, boot, path, scale in ROWS:
        for arm, stage in (("noisy", noisy), ("bootstrapped", boot)):
            v = _get(results.get(stage), *path)
            arms[arm][label] = None if v is None else v * scale
    world = results.get("world", {}).get("spec", {})
    test_images = (world.get("coco_splits") or [0, 0, 0])[2] or None
    chance = 100.0 / test_images if test_images else None
    cf = results.get("capfilt", {})
    nf, counts = cf.get("noise_filter", {}), cf.get("counts", {})
    noise_rate = nf["noisy_web_texts"] / (nf["noisy_web_texts"] + nf["clean_web_texts"]) if nf else None
    filt = {
        "itm_threshold": cf.get("itm_threshold"),
        "score_auc": nf.get("score_auc"),
        "noise_precision": nf.get("precision"),
        "noise_recall": nf.get("recall"),
        "clean_kept_rate": nf.get("clean_kept_rate"),
        "noise_rate": noise_rate,
        "counts": counts,
    }

    def at_least(x: float | None, floor: float | None) -> bool | None:
        return None if x is None or floor is None else x >= floor

    def above(a: float | None, b: float | None) -> bool | None:
        return None if a is None or b is None else a > b

    targets = {}
    for arm, vals in arms.items():
        for metric in ("retrieval TR@1 (%)", "retrieval IR@1 (%)"):
            name = f"{arm} {metric.split()[1]} >= 5x chance ({_fmt(None if chance is None else 5 * chance)} %)"
            targets[name] = at_least(vals[metric], None if chance is None else 5 * chance)
    targets["filter score AUC >= 0.85"] = at_least(filt["score_auc"], 0.85)
    targets["filter noise precision >= 1.5x noise rate"] = at_least(
        filt["noise_precision"], None if noise_rate is None else 1.5 * noise_rate
    )
    targets["filter keeps >= 70 % of clean web texts"] = at_least(filt["clean_kept_rate"], 0.70)
    for metric in ("retrieval R mean (%)", "caption CIDEr"):
        targets[f"bootstrapped > noisy on {metric}"] = above(arms["bootstrapped"][metric], arms["noisy"][metric])
    return {"arms": arms, "chance_r1": chance, "filter": filt, "targets": targets}


def comparison_table(results: dict[str, dict[str, Any]]) -> str:
    """The noisy-vs-bootstrapped table, CapFilt's counts and filter scores, and the targets met or missed."""
    summary = summarise(results)
    arms, filt = summary["arms"], summary["filter"]
    lines = [f"{'':24s} {'noisy web':>12s} {'bootstrapped':>14s}"]
    for label, *_ in ROWS:
        lines.append(f"{label:24s} {_fmt(arms['noisy'][label]):>12s} {_fmt(arms['bootstrapped'][label]):>14s}")
    if summary["chance_r1"] is not None:
        lines.append(f"(chance R@1: {summary['chance_r1']:.2f} %)")
    counts = filt["counts"]
    lines.append("")
    lines.append(
        f"CapFilt: web texts kept {counts.get('web_kept', 0)}, removed {counts.get('web_removed', 0)}; "
        f"synthetic kept {counts.get('synthetic_kept', 0)}, removed {counts.get('synthetic_removed', 0)}; "
        f"images left without text {counts.get('images_without_text', 0)}"
    )
    if filt["score_auc"] is not None:
        threshold = filt["itm_threshold"]
        lines.append(
            f"CapFilt noise filter vs ground truth: score AUC {filt['score_auc']:.2f}, "
            f"precision {_fmt(filt['noise_precision'], 100)}% (noise rate {_fmt(filt['noise_rate'], 100)}%), "
            f"recall {_fmt(filt['noise_recall'], 100)}%, clean texts kept {_fmt(filt['clean_kept_rate'], 100)}%"
            + (f", ITM threshold {threshold:.3f}" if isinstance(threshold, int | float) else "")
        )
    lines.append("")
    lines.append("Targets:")
    for name, ok in summary["targets"].items():
        lines.append(f"  [{'met   ' if ok else 'MISSED' if ok is False else '  —   '}] {name}")
    return "\n".join(lines)


def examples_text(capfilt_dir: Path, n: int = 4) -> str:
    path = capfilt_dir / "examples.json"
    if not path.is_file():
        return ""
    lines = ["", "Examples (web caption / synthetic captions, with the filter's verdict):"]
    for item in json.loads(path.read_text(encoding="utf-8"))[:n]:
        lines.append(f"  {item['image']}")
        for t in item["texts"]:
            verdict = "kept   " if t["kept"] else "removed"
            lines.append(f"    [{t['source']:9s}] {verdict} p(match)={t['score']:.2f}  {t['text']!r}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from vlkit.pipelines.parallel import run_pipeline
    from vlkit.pipelines.pipeline import load_pipeline

    cfg = load_pipeline(resolve_config_path(args.pipeline))
    cfg.output_dir = args.output_dir
    options = list(args.options)
    if args.smoke:
        options = [*SMOKE_OPTIONS, *options]
    if args.jobs < 1:
        raise SystemExit("--jobs must be at least 1")
    results = run_pipeline(cfg, options, jobs=args.jobs)
    print()
    print("=" * 72)
    print("vlkit quickstart: BLIP pre-training on noisy web data vs CapFilt-bootstrapped data")
    if args.smoke:
        print("(smoke run: a few steps per stage — the numbers below are not meaningful)")
    print("=" * 72)
    print(comparison_table(results))
    summary_path = Path(cfg.output_dir) / "quickstart_results.json"
    summary_path.write_text(json.dumps({"smoke": args.smoke, **summarise(results)}, indent=1), encoding="utf-8")
    print(examples_text(Path(results.get("capfilt", {}).get("output_dir", ""))))
    print(f"\nAll outputs: {cfg.output_dir} (this table as JSON: {summary_path})")
    return 0

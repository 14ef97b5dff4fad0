"""``vlkit quickstart``: the BLIP story end to end on the built-in synthetic world, on a CPU.

Pre-train a tiny BLIP on noisy web pairs → fine-tune a captioner and a filter on the clean set →
CapFilt the web set → pre-train again on the bootstrapped set → fine-tune and evaluate both models.
Prints a side-by-side table (noisy vs bootstrapped) and a few images' web captions, synthetic
captions and filter verdicts. Every number comes from the run itself.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from vlkit.common.paths import resolve_config_path

DEFAULT_PIPELINE = "projects/blip/pipelines/quickstart.yaml"
# CI runs the same pipeline with these overrides: fewer steps, smaller eval, same code path.
SMOKE_OPTIONS = [
    "train:run.max_epoch=1",
    "train:run.max_train_steps_per_epoch=3",
    "train:run.max_eval_batches=1",
    "capfilt:capfilt.max_shards=1",
    "capfilt:capfilt.shard_size=32",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE, help="pipeline YAML to run")
    parser.add_argument("--output-dir", default="output/quickstart", help="where every stage writes its outputs")
    parser.add_argument("--smoke", action="store_true", help="a few steps per stage (what CI runs); numbers are noise")
    parser.add_argument("--options", nargs="+", default=[], help="extra '<stage|kind|*>:key=value' overrides")


def _get(d: dict[str, Any] | None, *path: str) -> float | None:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return float(d) if isinstance(d, int | float) else None


def _fmt(x: float | None, scale: float = 1.0) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x * scale:.1f}"


def comparison_table(results: dict[str, dict[str, Any]]) -> str:
    """The noisy-vs-bootstrapped table from the pipeline's stage results."""
    rows = [
        ("retrieval TR@1 (%)", "retrieval_noisy", "retrieval_boot", ("metrics", "test", "txt_r1"), 1.0),
        ("retrieval IR@1 (%)", "retrieval_noisy", "retrieval_boot", ("metrics", "test", "img_r1"), 1.0),
        ("caption CIDEr", "caption_noisy", "caption_boot", ("metrics", "test", "CIDEr"), 100.0),
        ("caption BLEU-4", "caption_noisy", "caption_boot", ("metrics", "test", "Bleu_4"), 100.0),
    ]
    lines = [f"{'':24s} {'noisy web':>12s} {'bootstrapped':>14s}"]
    for label, noisy, boot, path, scale in rows:
        a, b = _get(results.get(noisy), *path), _get(results.get(boot), *path)
        lines.append(f"{label:24s} {_fmt(a, scale):>12s} {_fmt(b, scale):>14s}")
    cf = results.get("capfilt", {})
    nf = cf.get("noise_filter", {})
    counts = cf.get("counts", {})
    lines.append("")
    lines.append(
        f"CapFilt: web texts kept {counts.get('web_kept', 0)}, removed {counts.get('web_removed', 0)}; "
        f"synthetic kept {counts.get('synthetic_kept', 0)}, removed {counts.get('synthetic_removed', 0)}; "
        f"images left without text {counts.get('images_without_text', 0)}"
    )
    if nf:
        lines.append(
            f"CapFilt noise filter vs ground truth: precision {_fmt(nf.get('precision'), 100)}%, "
            f"recall {_fmt(nf.get('recall'), 100)}%, clean texts kept {_fmt(nf.get('clean_kept_rate'), 100)}%"
        )
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
    from vlkit.pipelines.pipeline import Pipeline, load_pipeline

    cfg = load_pipeline(resolve_config_path(args.pipeline))
    cfg.output_dir = args.output_dir
    options = list(args.options)
    if args.smoke:
        options = [*SMOKE_OPTIONS, *options]
    results = Pipeline(cfg, options).run()
    print()
    print("=" * 72)
    print("vlkit quickstart: BLIP pre-training on noisy web data vs CapFilt-bootstrapped data")
    if args.smoke:
        print("(smoke run: a few steps per stage — the numbers below are not meaningful)")
    print("=" * 72)
    print(comparison_table(results))
    print(examples_text(Path(results.get("capfilt", {}).get("output_dir", ""))))
    print(f"\nAll outputs: {cfg.output_dir}")
    return 0

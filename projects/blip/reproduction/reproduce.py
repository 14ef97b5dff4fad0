"""BLIP's Tables 1-3 in miniature, on the synthetic shapes world, over several seeds.

For each seed one pipeline (``vlkit.pipelines``) runs:

- ``pre``: a tiny BLIP pre-trained from scratch on human pairs + the noisy web set;
  ``cap`` / ``ret``: captioner (LM) and retrieval model (ITC+ITM, also the filter) fine-tuned from it
  on the human pairs and evaluated on the test split — the "no bootstrap" row;
- Table 1: CapFilt variants ``F`` (filter the web texts only), ``C`` (add synthetic captions, filter
  nothing) and ``CF`` (both); Table 2: ``CFbeam`` (captions by beam search instead of nucleus
  sampling). Each bootstrapped set pre-trains a NEW model (``pre_<v>``), fine-tuned and evaluated as
  ``cap_<v>`` / ``ret_<v>``;
- Table 3: the pre-training decoder's sharing strategy (``share_all``, ``share_none``; the default
  row shares all but self-attention) → ``pre_<s>``, ``cap_<s>``, ``ret_<s>``.

Every stage is skipped when already done (same inputs), so a killed run continues where it stopped.
At the end ``tables.md`` and ``results.json`` (per-seed values, mean ± std) are written to the output
directory and the tables are printed.

    python projects/blip/reproduction/reproduce.py --seeds 0 1 2 --output-dir output/reproduction
    python projects/blip/reproduction/reproduce.py --smoke --seeds 0 --tables 1   # a few steps per stage

See docs/reproduction.md for the measured tables and what they took to run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = "projects/blip/reproduction"
SMOKE_OPTIONS = [
    "train:run.max_epoch=1",
    "train:run.max_train_steps_per_epoch=2",
    "train:run.max_eval_batches=1",
    "capfilt:capfilt.max_shards=1",
    "capfilt:capfilt.shard_size=16",
]
# CapFilt variants: name -> capfilt options (Table 1: F / C / CF; Table 2: CFbeam)
CAPFILT_VARIANTS: dict[str, list[str]] = {
    "F": ["capfilt.num_captions=0"],
    "C": ["capfilt.filter_web_texts=false", "capfilt.filter_synthetic_texts=false"],
    "CF": [],
    "CFbeam": ["capfilt.decoding.use_nucleus_sampling=false", "capfilt.decoding.num_beams=3"],
}
SHARE_VARIANTS = {"share_all": "all", "share_none": "none"}
# Presets: "full" runs the YAMLs as written on the default shapes world (hours on a CPU). "fast" runs the same
# stages on a one-object shapes world ({world}: generated under the output directory) at 48 px (6 x 6 patches
# instead of 8 x 8: the image tokens are most of a tiny model's compute) from the warm start (made once under
# the output directory unless --warm-start is given), with fewer, larger updates and random ITM negatives, so
# that all three tables for three seeds fit in an hour on 2 CPU cores. Learning rates above 3e-4 collapse its
# retrieval model to constant features (docs/reproduction.md has what each preset measured). Options by role.
FAST_WORLD = {"num_images": 600, "num_web_images": 1200, "max_objects": 1, "image_size": 64, "tasks": ("coco", "web")}
FAST_IMAGE_SIZE = 48
_FAST_TRAIN = ["run.batch_size_train=32", "run.warmup_steps=20", f"model.image_size={FAST_IMAGE_SIZE}"]
_FAST_PRE = [*_FAST_TRAIN, "run.init_lr=3e-4", "run.max_epoch=2", "model.itm_negatives=random"]


def _fast_images(*datasets: str, eval_too: bool = False) -> list[str]:
    """The fast preset's image size for the train (and eval) processors of ``datasets``."""
    splits = ("train", "eval") if eval_too else ("train",)
    return [
        f"datasets.{d}.vis_processor.{s}.{key}={value}"
        for d in datasets
        for s in splits
        for key, value in (("name", "blip_image_eval"), ("image_size", FAST_IMAGE_SIZE))
    ]


PRESETS: dict[str, dict[str, list[str]]] = {
    "full": {},
    "fast": {
        "pre": [
            *_FAST_PRE,
            *_fast_images("shapes_coco_caption", "shapes_web"),
            "datasets.shapes_coco_caption.build_info.root={world}/coco",
            "datasets.shapes_web.build_info.root={world}/web",
        ],
        "pre_boot": [*_FAST_PRE, *_fast_images("image_text_json", eval_too=True)],
        "cap": [
            *_FAST_TRAIN,
            *_fast_images("shapes_coco_caption", eval_too=True),
            "run.init_lr=5e-4",
            "run.max_epoch=2",
            "datasets.shapes_coco_caption.build_info.root={world}/coco",
        ],
        "ret": [
            *_FAST_TRAIN,
            *_fast_images("shapes_coco_retrieval", eval_too=True),
            "run.init_lr=3e-4",
            "run.max_epoch=2",
            "model.itm_negatives=random",
            "datasets.shapes_coco_retrieval.build_info.root={world}/coco",
        ],
        "capfilt": [
            f"capfilt.captioner.overrides.image_size={FAST_IMAGE_SIZE}",
            f"capfilt.filter.overrides.image_size={FAST_IMAGE_SIZE}",
            "capfilt.data.annotations={world}/web/annotations/web_train.json",
            "capfilt.data.images_root={world}/web",
            "capfilt.data.noise_labels={world}/web/noise_labels.json",
            "capfilt.data.human_annotations={world}/coco/annotations/coco_karpathy_train.json",
            "capfilt.data.human_images_root={world}/coco/images",
        ],
    },
}
# cap on updates per epoch of pre-training on a bootstrapped set: those of the noisy set (3,300 pairs), so a
# larger set (+C) gets no more updates than `pre`; a smaller one (+F) gets its full passes, fewer updates
PRESET_PRETRAIN_STEPS = {"full": 51, "fast": 103}
TABLE_VARIANTS = {1: ["F", "C", "CF"], 2: ["CFbeam"], 3: list(SHARE_VARIANTS)}
METRICS = {  # column -> (stage prefix, path in the stage result, scale)
    "TR@1": ("ret", ("metrics", "test", "txt_r1"), 1.0),
    "IR@1": ("ret", ("metrics", "test", "img_r1"), 1.0),
    # mean of TR/IR@1/5/10: steadier than R@1 on 90 test images whose captions often fit several images
    "R mean": ("ret", ("metrics", "test", "r_mean"), 1.0),
    "CIDEr": ("cap", ("metrics", "test", "CIDEr"), 100.0),
    "B@4": ("cap", ("metrics", "test", "Bleu_4"), 100.0),
}


def table_variants(tables: Iterable[int], only: Sequence[str] | None = None) -> list[str]:
    """The variants of ``tables`` in table order, restricted to ``only`` when given."""
    return [v for t in sorted(set(tables)) for v in TABLE_VARIANTS[t] if only is None or v in only]


def seed_stages(
    seed: int,
    tables: Iterable[int],
    pretrain_steps: int | None,
    variants: Sequence[str] | None = None,
    caption_tokenizer: str = "ptb",
    warm_start: str | None = None,
    preset: str = "full",
    world: str | None = None,
) -> list[dict[str, Any]]:
    """The stages of one seed's pipeline (plain dicts in ``pipeline.stages`` form).

    ``variants`` restricts the tables' variants (``[]``: only the shared ``pre``/``cap``/``ret`` stages);
    ``warm_start`` (``warm_start.py``'s weights) initialises every pre-training, as BERT + ImageNet do BLIP's;
    ``preset`` picks :data:`PRESETS`' options, whose ``{world}`` is ``world``.
    """

    def role(name: str) -> list[str]:
        return [o.replace("{world}", str(world)) for o in PRESETS[preset].get(name, [])]

    seed_opt = [f"run.seed={seed}"]
    init = [f"model.pretrained={warm_start}", "model.load_pretrained=true"] if warm_start else []
    pre = {"name": "pre", "kind": "train", "cfg": f"{HERE}/pretrain.yaml", "options": [*seed_opt, *init, *role("pre")]}
    stages: list[dict[str, Any]] = [pre]

    def downstream(tag: str, pre: str) -> list[dict[str, Any]]:
        ckpt = f"model.pretrained=${{stages.{pre}.last_checkpoint}}"
        tok = [f"run.caption_tokenizer={caption_tokenizer}"] if caption_tokenizer != "ptb" else []
        return [
            {
                "name": f"cap{tag}",
                "kind": "train",
                "cfg": f"{HERE}/caption.yaml",
                "options": [*seed_opt, ckpt, *tok, *role("cap")],
            },
            {
                "name": f"ret{tag}",
                "kind": "train",
                "cfg": f"{HERE}/retrieval.yaml",
                "options": [*seed_opt, ckpt, *role("ret")],
            },
        ]

    stages += downstream("", "pre")
    for v in table_variants(tables, variants):
        if v in CAPFILT_VARIANTS:
            stages.append(
                {
                    "name": f"capfilt_{v}",
                    "kind": "capfilt",
                    "cfg": f"{HERE}/capfilt.yaml",
                    "options": [
                        "capfilt.captioner.checkpoint=${stages.cap.last_checkpoint}",
                        "capfilt.filter.checkpoint=${stages.ret.last_checkpoint}",
                        f"capfilt.seed={seed}",
                        *role("capfilt"),
                        *CAPFILT_VARIANTS[v],
                    ],
                }
            )
            boot = [
                f"datasets.image_text_json.build_info.root=${{stages.capfilt_{v}.output_dir}}",
                "datasets.image_text_json.build_info.annotations.train.storage=bootstrapped.json",
            ]
            # no more updates than the noisy pre-training, however large the bootstrapped set
            steps = [f"run.max_train_steps_per_epoch={pretrain_steps}"] if pretrain_steps else []
            stages.append(
                {
                    "name": f"pre_{v}",
                    "kind": "train",
                    "cfg": f"{HERE}/pretrain_boot.yaml",
                    "options": [*seed_opt, *init, *role("pre_boot"), *boot, *steps],
                }
            )
        else:
            stages.append(
                {
                    "name": f"pre_{v}",
                    "kind": "train",
                    "cfg": f"{HERE}/pretrain.yaml",
                    "options": [*seed_opt, *init, *role("pre"), f"model.share_strategy={SHARE_VARIANTS[v]}"],
                }
            )
        stages += downstream(f"_{v}", f"pre_{v}")
    return stages


def run_seed(seed: int, out_dir: Path, options: list[str], **plan: Any) -> dict:
    """Run (or find done) one seed's stages; ``plan`` is :func:`seed_stages`' keyword arguments."""
    from vlkit.pipelines.pipeline import Pipeline, PipelineConfig, StageConfig

    stages = [StageConfig(**s) for s in seed_stages(seed, **plan)]
    cfg = PipelineConfig(name=f"reproduction_seed{seed}", output_dir=str(out_dir / f"seed{seed}"), stages=stages)
    return Pipeline(cfg, options).run()


def run_parallel(
    argv: Sequence[str], seeds: Sequence[int], variants: Sequence[str], out_dir: Path, jobs: int | None = None
) -> None:
    """Each seed's shared stages in one process, then one process per (seed, variant) (:func:`schedule`).

    At most ``jobs`` processes (default: one per CPU core) run at a time, each with its share of the cores:
    on the 2-core box two single-threaded processes do 1.1-1.4x the training steps of one with two threads
    (captioning least, pre-training most), but twelve at once are no faster than one. Stages are skipped
    when done, so a seed's variant processes share its ``pre``/``cap``/``ret`` safely once its shared
    process has finished. Logs go to ``<output-dir>/logs/``.
    """
    logs = out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, str(Path(__file__).resolve()), *argv]
    cores = os.cpu_count() or 1
    slots = max(1, min(jobs or cores, len(seeds) * max(1, len(variants))))
    # share the CPU cores instead of oversubscribing them (torch reads OMP_NUM_THREADS at start)
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // slots))}

    def start(seed: int, variant: str) -> tuple[str, subprocess.Popen]:
        cmd = [*base, "--seeds", str(seed), "--variants", variant, "--no-tables"]
        log = logs / f"seed{seed}_{variant}.log"
        with open(log, "w", encoding="utf-8") as fh:  # the child keeps its own handle
            return log.name, subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)

    schedule(seeds, sorted(variants, key=lambda v: v == "F"), slots, start)  # +F pre-trains on the fewest pairs


def schedule(
    seeds: Sequence[int],
    variants: Sequence[str],
    slots: int,
    start: Callable[[int, str], tuple[str, subprocess.Popen]],
    poll_seconds: float = 1.0,
) -> list[tuple[int, str]]:
    """Run ``start(seed, "base")`` for every seed and ``start(seed, v)`` for every variant, ``slots`` at a time.

    A seed's variants become ready as soon as its base has finished (not when every seed's has), so no slot
    waits for another seed's shared stages. Bases go first (each unlocks a seed's variants), then the
    variants in the order given, each for every seed: put the shortest last, so the run ends evenly. A failed base
    cancels its seed's variants; failures are raised together at the end, after everything else has run.
    Returns the (seed, variant) pairs in the order they were started.
    """
    import time

    pending = [(s, "base") for s in seeds] + [(s, v) for v in variants for s in seeds]
    based: set[int] = set()
    running: list[tuple[tuple[int, str], str, subprocess.Popen]] = []
    started, failed = [], []
    while pending or running:
        for job in [j for j in pending if j[1] == "base" or j[0] in based]:
            if len(running) >= slots:
                break
            pending.remove(job)
            started.append(job)
            running.append((job, *start(*job)))
        time.sleep(poll_seconds)
        for entry in [r for r in running if r[2].poll() is not None]:
            running.remove(entry)
            (seed, variant), name, proc = entry
            if proc.returncode == 0:
                if variant == "base":
                    based.add(seed)
                continue
            failed.append(f"{name} (exit {proc.returncode})")
            if variant == "base":
                cancelled = [j for j in pending if j[0] == seed]
                pending = [j for j in pending if j[0] != seed]
                failed += [f"seed {seed} {v} (not run: its shared stages failed)" for _, v in cancelled]
    if failed:
        raise RuntimeError(f"reproduction processes failed; see {', '.join(failed)}")
    return started


def row_values(results: dict[str, dict], tag: str) -> dict[str, float | None]:
    """One table row (``tag`` = "" for the no-bootstrap model, else ``_<variant>``) of one seed."""
    from vlkit.quickstart import _get  # the same nested-result lookup as the quickstart table

    row = {col: _get(results.get(f"{prefix}{tag}"), *path) for col, (prefix, path, _) in METRICS.items()}
    row = {col: (None if v is None else v * METRICS[col][2]) for col, v in row.items()}
    cf = results.get(f"capfilt{tag}", {})
    nf, counts = cf.get("noise_filter", {}), cf.get("counts", {})
    syn = counts.get("synthetic_kept", 0) + counts.get("synthetic_removed", 0)
    row["noise ratio"] = 100.0 * counts.get("synthetic_removed", 0) / syn if syn else None
    row["filter P"] = 100.0 * nf["precision"] if nf and counts.get("web_removed") else None
    row["filter R"] = 100.0 * nf["recall"] if nf else None
    row["filter AUC"] = nf.get("score_auc") if nf else None
    return row


def summarise(values: list[float | None], digits: int = 1) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "—"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    return f"{statistics.mean(vals):.{digits}f} ± {statistics.stdev(vals):.{digits}f}"


TABLES = {  # table -> (title, [(row label, stage tag)], columns)
    1: (
        "Table 1: bootstrapping (C = captioner, F = filter)",
        [("no bootstrap", ""), ("+F", "_F"), ("+C", "_C"), ("+C+F", "_CF")],
        ["TR@1", "IR@1", "R mean", "CIDEr", "B@4", "filter P", "filter R", "filter AUC"],
    ),
    2: (
        "Table 2: captioner decoding in CapFilt",
        [("nucleus (top-p 0.9)", "_CF"), ("beam (3)", "_CFbeam")],
        ["noise ratio", "TR@1", "IR@1", "R mean", "CIDEr", "B@4"],
    ),
    3: (
        "Table 3: text encoder/decoder sharing in pre-training",
        [("all but self-attention", ""), ("all", "_share_all"), ("none", "_share_none")],
        ["TR@1", "IR@1", "R mean", "CIDEr", "B@4"],
    ),
}


def render_tables(per_seed: dict[int, dict[str, dict]], tables: Sequence[int]) -> str:
    """Markdown tables: mean ± sample std over seeds (a single seed prints its value).

    With several seeds each table is followed by the paired differences of its other rows from its first
    (same seed, then mean ± std over seeds): the seed moves every row of a table together, so these show a
    row's effect more sharply than the spread of the rows themselves.
    """
    seeds = sorted(per_seed)
    out = [f"Seeds: {', '.join(map(str, seeds))}. Values are mean ± standard deviation over seeds.", ""]
    for t in sorted(set(tables)):
        title, rows, cols = TABLES[t]
        vals = {tag: [row_values(per_seed[s], tag) for s in seeds] for _, tag in rows}
        out += [f"### {title}", "", *_table_header(cols)]
        for label, tag in rows:
            cells = [summarise([v[c] for v in vals[tag]], 2 if c == "filter AUC" else 1) for c in cols]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
        if len(seeds) > 1:
            (ref_label, ref_tag), metric_cols = rows[0], [c for c in cols if c in METRICS]
            out += [f'Paired difference from "{ref_label}" (same seed):', "", *_table_header(metric_cols)]
            for label, tag in rows[1:]:
                pairs = list(zip(vals[tag], vals[ref_tag], strict=True))
                cells = [
                    _signed(summarise([None if v[c] is None or r[c] is None else v[c] - r[c] for v, r in pairs]))
                    for c in metric_cols
                ]
                out.append(f"| {label} | " + " | ".join(cells) + " |")
            out.append("")
    return "\n".join(out)


def _table_header(cols: Sequence[str]) -> list[str]:
    return ["| | " + " | ".join(cols) + " |", "| --- " * (len(cols) + 1) + "|"]


def _signed(cell: str) -> str:
    return cell if cell == "—" or cell.startswith("-") else "+" + cell


def ensure_warm_start(path: Path, image_size: int = FAST_IMAGE_SIZE) -> Path:
    """``path``, made by ``warm_start.py`` for ``image_size`` (a few minutes on 2 CPU cores) unless it exists."""
    if not path.is_file():
        script = Path(__file__).with_name("warm_start.py")
        logging.getLogger(__name__).info("making the warm start %s (%s)", path, script.name)
        cmd = [sys.executable, str(script), "--out", str(path), "--image-size", str(image_size)]
        subprocess.run(cmd, check=True)
    return path.resolve()


def _drop_option(argv: list[str], name: str) -> list[str]:
    """``argv`` without ``name`` and the values that follow it."""
    out, skipping = [], False
    for a in argv:
        if a == name:
            skipping = True
        elif skipping and a.startswith("--"):
            skipping = False
            out.append(a)
        elif not skipping:
            out.append(a)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--tables", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    p.add_argument("--output-dir", default="output/reproduction")
    p.add_argument("--smoke", action="store_true", help="a few steps per stage (tests); numbers are noise")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="full",
        help="full: the YAMLs on the default shapes world (hours on CPU); fast: a one-object world, ~1 h on CPU",
    )
    p.add_argument(
        "--pretrain-steps",
        type=int,
        default=None,
        help="most updates per epoch for pre-training on bootstrapped sets (default: as many as the noisy set's)",
    )
    p.add_argument("--options", nargs="+", default=[], help="extra '<stage|kind|*>:key=value' overrides")
    all_variants = sorted({v for vs in TABLE_VARIANTS.values() for v in vs})
    p.add_argument(
        "--variants",
        nargs="+",
        choices=["base", *all_variants],
        default=None,
        help="run only these variants of the selected tables ('base': only the shared stages)",
    )
    p.add_argument(
        "--caption-tokenizer",
        choices=["ptb", "simple"],
        default="ptb",
        help="caption evaluation tokenizer ('simple' needs no Java; not the official protocol)",
    )
    p.add_argument(
        "--warm-start",
        default=None,
        help="initialise every pre-training from these weights (made by warm_start.py; default: random for "
        "the full preset; for the fast one <output-dir>/warm_start.safetensors, made on first use at 48 px, "
        "so a file given here must be made with --image-size 48)",
    )
    p.add_argument(
        "--parallel",
        action="store_true",
        help="one process per seed, then per (seed, variant), --jobs at a time: ~1.3x on 2 CPU cores; fills a GPU",
    )
    p.add_argument(
        "--jobs", type=int, default=None, help="with --parallel: processes at a time (default: one per CPU core)"
    )
    p.add_argument("--no-tables", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.warm_start and not Path(args.warm_start).is_file():
        p.error(f"--warm-start {args.warm_start} does not exist; make it with {HERE}/warm_start.py --out <file>")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    out_dir = Path(args.output_dir)
    options = [*(SMOKE_OPTIONS if args.smoke else []), *args.options]
    pretrain_steps = 2 if args.smoke else (args.pretrain_steps or PRESET_PRETRAIN_STEPS[args.preset])
    variants = None if args.variants is None else [v for v in args.variants if v != "base"]
    warm = str(Path(args.warm_start).resolve()) if args.warm_start else None
    if warm is None and args.preset == "fast" and not args.smoke:
        warm = str(ensure_warm_start(out_dir / "warm_start.safetensors"))
    world = None
    if args.preset == "fast":
        from vlkit.data.synthetic.world import ensure_world

        world = str(ensure_world((out_dir / "world").resolve(), **FAST_WORLD))
    plan = dict(
        tables=args.tables,
        pretrain_steps=pretrain_steps,
        caption_tokenizer=args.caption_tokenizer,
        warm_start=warm,
        preset=args.preset,
        world=world,
    )
    if args.parallel:
        forwarded = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--parallel"]
        for name in ("--seeds", "--variants", "--jobs"):  # each child gets its own seed and variant
            forwarded = _drop_option(forwarded, name)
        run_parallel(forwarded, args.seeds, table_variants(args.tables, variants), out_dir, jobs=args.jobs)
    per_seed = {s: run_seed(s, out_dir, options, variants=variants, **plan) for s in args.seeds}
    if args.no_tables:
        return 0
    text = render_tables(per_seed, args.tables)
    if args.smoke:
        text = "(smoke run: a few steps per stage; the numbers are not meaningful)\n\n" + text
    (out_dir / "tables.md").write_text(text + "\n", encoding="utf-8")
    tags = [tag for t in args.tables for _, tag in TABLES[t][1]]
    rows = {s: {tag or "base": row_values(r, tag) for tag in tags} for s, r in per_seed.items()}
    (out_dir / "results.json").write_text(json.dumps({"seeds": rows, "options": options}, indent=1), encoding="utf-8")
    print(text)
    print(f"written: {out_dir / 'tables.md'}, {out_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

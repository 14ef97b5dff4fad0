"""BLIP's Tables 1-3 in miniature, on the synthetic shapes world, over several seeds.

For each seed one pipeline (``vlkit.pipelines``) runs:

- ``pre``: a tiny BLIP pre-trained from scratch on human pairs + the noisy web set;
  ``cap`` / ``ret``: captioner (LM) and retrieval model (ITC+ITM) fine-tuned from it on the human pairs
  and evaluated on the test split — the "no bootstrap" row; the filter is ``ret`` (``full`` preset) or,
  in the ``fast`` preset, ``filt``: the same recipe fine-tuned longer and harder, not evaluated;
- Table 1: CapFilt variants ``F`` (filter the web texts only), ``C`` (add synthetic captions, filter
  nothing) and ``CF`` (both); Table 2: ``CFbeam`` (captions by beam search instead of nucleus
  sampling). Each bootstrapped set pre-trains a NEW model (``pre_<v>``), fine-tuned and evaluated as
  ``cap_<v>`` / ``ret_<v>``;
- Table 3: the pre-training decoder's sharing strategy (``share_all``, ``share_none``; the default
  row shares all but self-attention) → ``pre_<s>``, ``cap_<s>``, ``ret_<s>``.

All seeds' stages form one ``vlkit`` pipeline (stage ``seed<s>_<name>``; the ``fast`` preset adds the
shared ``world`` and ``warm_start`` stages), written to ``<output-dir>/pipeline.yaml`` and run by
``vlkit.pipelines`` — with ``--jobs N`` its independent stages run side by side (``vlkit run --jobs``).
Every stage is skipped when already done (same inputs), so a killed run continues where it stopped.
At the end ``tables.md`` and ``results.json`` (per-seed values, mean ± std) are written to the output
directory and the tables are printed.

    python projects/blip/reproduction/reproduce.py --preset fast --jobs 2 --seeds 0 1 2
    python projects/blip/reproduction/reproduce.py --smoke --seeds 0 --tables 1   # a few steps per stage

See docs/reproduction.md for the measured tables and what they took to run.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

HERE = "projects/blip/reproduction"
SMOKE_OPTIONS = [
    "synth:world.coco_splits=[12,6,20]",
    "synth:world.num_web_images=32",
    "warm_start:warm_start.scenes=48",
    "warm_start:warm_start.held_out=8",
    "warm_start:warm_start.vision_steps=2",
    "warm_start:warm_start.text_steps=2",
    "warm_start:warm_start.batch_size=8",
    "train:run.max_epoch=1",
    "train:run.max_train_steps_per_epoch=2",
    "train:run.max_iters=2",
    "train:run.iters_per_inner_epoch=2",
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
# Presets. "full" runs the reproduction YAMLs on the default shapes world (hours on a CPU; random
# initialisation unless --warm-start names a file). "fast" runs the quickstart's design and YAMLs
# (projects/blip/quickstart/): its world in BLIP's proportions (human pairs ~10 % of pre-training, half the
# web texts noisy, a third of that systematically misnamed, 500 test images) and its warm start, both made by
# stages shared by every seed; the same number of pre-training updates (300) on every pre-training set;
# CapFilt's threshold calibrated on the held-out val pairs. docs/reproduction.md has what each preset measured.
QUICKSTART = "projects/blip/quickstart"
PRESET_CFGS: dict[str, dict[str, str]] = {
    "full": {
        "pre": f"{HERE}/pretrain.yaml",
        "pre_boot": f"{HERE}/pretrain_boot.yaml",
        "cap": f"{HERE}/caption.yaml",
        "ret": f"{HERE}/retrieval.yaml",
        "capfilt": f"{HERE}/capfilt.yaml",
    },
    "fast": {
        "pre": f"{QUICKSTART}/pretrain_noisy.yaml",
        "pre_boot": f"{QUICKSTART}/pretrain_boot.yaml",
        "cap": f"{QUICKSTART}/caption.yaml",
        "ret": f"{QUICKSTART}/retrieval.yaml",
        "filt": f"{QUICKSTART}/retrieval.yaml",
        "capfilt": f"{QUICKSTART}/capfilt.yaml",
    },
}
WORLD = "${stages.world.root}"
WARM = "${stages.warm_start.checkpoint}"
SHARED_STAGES = {  # stages every seed of a preset reads from
    "full": [],
    "fast": [
        {"name": "world", "kind": "synth", "cfg": f"{QUICKSTART}/world.yaml", "options": []},
        {"name": "warm_start", "kind": "warm_start", "cfg": f"{QUICKSTART}/warm_start.yaml", "options": []},
    ],
}
FILTER_RECIPE = ["run.init_lr=1.0e-3", "run.max_epoch=8", "run.test_splits=[]"]
PRESETS: dict[str, dict[str, list[str]]] = {
    "full": {},
    "fast": {
        "pre": [
            f"model.pretrained={WARM}",
            f"datasets.shapes_coco_caption.build_info.root={WORLD}/coco",
            f"datasets.shapes_web.build_info.root={WORLD}/web",
        ],
        "pre_boot": [f"model.pretrained={WARM}"],
        "cap": [f"datasets.shapes_coco_caption.build_info.root={WORLD}/coco"],
        "ret": [f"datasets.shapes_coco_retrieval.build_info.root={WORLD}/coco"],
        # the filter: the retrieval recipe, longer and harder, not evaluated (the quickstart's filter_noisy stage)
        "filt": [f"datasets.shapes_coco_retrieval.build_info.root={WORLD}/coco", *FILTER_RECIPE],
        "capfilt": [
            f"capfilt.data.annotations={WORLD}/web/annotations/web_train.json",
            f"capfilt.data.images_root={WORLD}/web",
            f"capfilt.data.noise_labels={WORLD}/web/noise_labels.json",
            f"capfilt.data.human_annotations={WORLD}/coco/annotations/coco_karpathy_train.json",
            f"capfilt.data.human_images_root={WORLD}/coco/images",
            f"capfilt.data.heldout_annotations={WORLD}/coco/annotations/coco_karpathy_val.json",
            f"capfilt.data.heldout_images_root={WORLD}/coco/images",
        ],
    },
}
# full preset: cap on updates per epoch of pre-training on a bootstrapped set, those of the noisy set (3,300
# pairs), so a larger set (+C) gets no more updates than `pre`; the fast preset's runner_iter gives every
# pre-training the same number of updates by itself
PRESET_PRETRAIN_STEPS = {"full": 51, "fast": None}
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
) -> list[dict[str, Any]]:
    """The stages of one seed (plain dicts in ``pipeline.stages`` form, names without the seed prefix).

    ``variants`` restricts the tables' variants (``[]``: only the shared ``pre``/``cap``/``ret`` stages);
    ``warm_start`` (a weights file) initialises every pre-training of the full preset, as BERT + ImageNet do
    BLIP's (the fast preset's come from its ``warm_start`` stage); ``preset`` picks :data:`PRESET_CFGS` and
    :data:`PRESETS`' options.
    """
    cfgs = PRESET_CFGS[preset]

    def role(name: str) -> list[str]:
        return list(PRESETS[preset].get(name, []))

    seed_opt = [f"run.seed={seed}"]
    init = [f"model.pretrained={warm_start}", "model.load_pretrained=true"] if warm_start else []
    pre = {"name": "pre", "kind": "train", "cfg": cfgs["pre"], "options": [*seed_opt, *init, *role("pre")]}
    stages: list[dict[str, Any]] = [pre]

    def downstream(tag: str, pre: str) -> list[dict[str, Any]]:
        ckpt = f"model.pretrained=${{stages.{pre}.last_checkpoint}}"
        tok = [f"run.caption_tokenizer={caption_tokenizer}"] if caption_tokenizer != "ptb" else []
        return [
            {
                "name": f"cap{tag}",
                "kind": "train",
                "cfg": cfgs["cap"],
                "options": [*seed_opt, ckpt, *tok, *role("cap")],
            },
            {"name": f"ret{tag}", "kind": "train", "cfg": cfgs["ret"], "options": [*seed_opt, ckpt, *role("ret")]},
        ]

    stages += downstream("", "pre")
    filter_stage = "ret"  # the full preset's filter is the retrieval model, as in the paper
    if "filt" in cfgs and any(v in CAPFILT_VARIANTS for v in table_variants(tables, variants)):
        filter_stage = "filt"
        ckpt = "model.pretrained=${stages.pre.last_checkpoint}"
        stages.append(
            {"name": "filt", "kind": "train", "cfg": cfgs["filt"], "options": [*seed_opt, ckpt, *role("filt")]}
        )
    for v in table_variants(tables, variants):
        if v in CAPFILT_VARIANTS:
            stages.append(
                {
                    "name": f"capfilt_{v}",
                    "kind": "capfilt",
                    "cfg": cfgs["capfilt"],
                    "options": [
                        "capfilt.captioner.checkpoint=${stages.cap.last_checkpoint}",
                        f"capfilt.filter.checkpoint=${{stages.{filter_stage}.last_checkpoint}}",
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
                    "cfg": cfgs["pre_boot"],
                    "options": [*seed_opt, *init, *role("pre_boot"), *boot, *steps],
                }
            )
        else:
            share = f"model.share_strategy={SHARE_VARIANTS[v]}"
            stages.append(
                {
                    "name": f"pre_{v}",
                    "kind": "train",
                    "cfg": cfgs["pre"],
                    "options": [*seed_opt, *init, *role("pre"), share],
                }
            )
        stages += downstream(f"_{v}", f"pre_{v}")
    return stages


def with_seed_prefix(stages: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """``stages`` named ``seed<seed>_<name>``, their references to each other renamed alike."""
    names = {s["name"] for s in stages}
    ref = re.compile(r"\$\{stages\.([A-Za-z0-9_\-]+)")

    def rename(text: str) -> str:
        return ref.sub(lambda m: f"${{stages.seed{seed}_{m.group(1)}" if m.group(1) in names else m.group(0), text)

    return [{**s, "name": f"seed{seed}_{s['name']}", "options": [rename(o) for o in s["options"]]} for s in stages]


def plan(seeds: Sequence[int], preset: str, **per_seed: Any) -> list[dict[str, Any]]:
    """Every stage of the run: the preset's shared stages, then each seed's (:func:`seed_stages` arguments)."""
    stages = [dict(s) for s in SHARED_STAGES[preset]]
    for seed in seeds:
        stages += with_seed_prefix(seed_stages(seed, preset=preset, **per_seed), seed)
    return stages


def seed_results(results: dict[str, dict], seed: int) -> dict[str, dict]:
    """One seed's stage results under their unprefixed names."""
    prefix = f"seed{seed}_"
    return {k[len(prefix) :]: v for k, v in results.items() if k.startswith(prefix)}


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
    """Markdown tables, mean ± sample std over seeds, each followed by its rows' paired differences from
    its first row (``vlkit.pipelines.seed_tables``)."""
    from vlkit.pipelines.seed_tables import TableSpec, render

    specs = [
        TableSpec(title, rows, cols, [c for c in cols if c in METRICS], {"filter AUC": 2})
        for title, rows, cols in (TABLES[t] for t in sorted(set(tables)))
    ]
    return render(list(per_seed), specs, lambda seed, tag: row_values(per_seed[seed], tag))


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
        help="full: the YAMLs on the default shapes world (hours on CPU); fast: the quickstart's world and "
        "models, all three tables for three seeds in under an hour on 2 CPU cores (with --jobs 2)",
    )
    p.add_argument(
        "--pretrain-steps",
        type=int,
        default=None,
        help="full preset: most updates per epoch of pre-training on bootstrapped sets (default: the noisy set's)",
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
        help="full preset: initialise every pre-training from these weights (a `warm_start` pipeline stage's "
        "output); the fast preset makes its own",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="independent stages side by side, this many processes at a time (vlkit run --jobs): ~1.2x on 2 CPU "
        "cores; fills a GPU",
    )
    args = p.parse_args(argv)
    if args.warm_start and not Path(args.warm_start).is_file():
        p.error(f"--warm-start {args.warm_start} does not exist")
    if args.warm_start and args.preset == "fast":
        p.error("--warm-start is for the full preset; the fast preset makes its own warm start")
    if args.jobs < 1:
        p.error("--jobs must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from vlkit.pipelines.parallel import run_pipeline
    from vlkit.pipelines.pipeline import PipelineConfig, StageConfig

    out_dir = Path(args.output_dir)
    options = [*(SMOKE_OPTIONS if args.smoke else []), *args.options]
    pretrain_steps = 2 if args.smoke else (args.pretrain_steps or PRESET_PRETRAIN_STEPS[args.preset])
    variants = None if args.variants is None else [v for v in args.variants if v != "base"]
    stages = plan(
        args.seeds,
        args.preset,
        tables=args.tables,
        pretrain_steps=pretrain_steps,
        variants=variants,
        caption_tokenizer=args.caption_tokenizer,
        warm_start=str(Path(args.warm_start).resolve()) if args.warm_start else None,
    )
    cfg = PipelineConfig(name="reproduction", output_dir=str(out_dir), stages=[StageConfig(**s) for s in stages])
    results = run_pipeline(cfg, options, jobs=args.jobs)
    per_seed = {s: seed_results(results, s) for s in args.seeds}
    text = render_tables(per_seed, args.tables)
    if args.smoke:
        text = "(smoke run: a few steps per stage; the numbers are not meaningful)\n\n" + text
    (out_dir / "tables.md").write_text(text + "\n", encoding="utf-8")
    tags = [tag for t in args.tables for _, tag in TABLES[t][1]]
    rows = {s: {tag or "base": row_values(r, tag) for tag in tags} for s, r in per_seed.items()}
    seconds = {name: r.get("seconds") for name, r in results.items()}
    payload = {"seeds": rows, "options": options, "stage_seconds": seconds}
    (out_dir / "results.json").write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(text)
    print(f"written: {out_dir / 'tables.md'}, {out_dir / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

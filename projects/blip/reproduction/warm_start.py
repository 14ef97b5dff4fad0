"""Unimodal warm start for the ``tiny`` encoders (the miniature of BLIP's ImageNet ViT + BERT start), as a script.

It runs what a pipeline's ``warm_start`` stage runs (``vlkit.pipelines.warm_start``; the two registered tasks
``warm_start_vision`` and ``warm_start_text`` through the normal runner, what they learn and why: their
docstrings; projects/blip/quickstart/warm_start.yaml). This entry point writes the weights and a JSON
report next to them (the runner jobs in ``<out stem>_jobs/``) for any other use, e.g. the full
reproduction preset's ``--warm-start``:

    python projects/blip/reproduction/warm_start.py --out output/warm_start/tiny.safetensors --image-size 64
    vlkit train --cfg-path projects/blip/reproduction/pretrain.yaml \\
        --options model.pretrained=output/warm_start/tiny.safetensors model.load_pretrained=true
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import fields

from vlkit.pipelines.warm_start import WarmStartConfig, run_warm_start


def _flag(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="output/warm_start/tiny.safetensors", help="where to write the weights")
    for f in fields(WarmStartConfig):
        kind = _flag if isinstance(f.default, bool) else type(f.default)
        p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=f.default)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = WarmStartConfig(**{f.name: getattr(args, f.name) for f in fields(WarmStartConfig)})
    cfg.check("warm_start.py arguments")
    report = run_warm_start(cfg, args.out)
    print(json.dumps({k: report[k] for k in ("vision", "text", "seconds")}), flush=True)
    print(f"wrote {args.out}: use it as model.pretrained (with model.load_pretrained=true) of a tiny BLIP model")
    return 0


if __name__ == "__main__":
    sys.exit(main())

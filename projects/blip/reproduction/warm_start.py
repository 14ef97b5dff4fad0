"""Unimodal warm start for the ``tiny`` encoders (the miniature of BLIP's ImageNet ViT + BERT start), as a script.

The training is ``vlkit.tasks.warm_start`` (what it learns and why: its docstring); pipelines run it as a
``warm_start`` stage (projects/blip/quickstart/warm_start.yaml). This entry point writes the weights and a
JSON report next to them for any other use, e.g. the full reproduction preset's ``--warm-start``:

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

from vlkit.tasks.warm_start import WarmStartConfig, run_warm_start


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="output/warm_start/tiny.safetensors", help="where to write the weights")
    for f in fields(WarmStartConfig):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
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

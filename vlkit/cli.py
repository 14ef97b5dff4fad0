"""The ``vlkit`` command line (also ``python -m vlkit``).

Each subcommand lives in the module that owns the feature and exposes ``add_arguments(parser)`` and
``main(args) -> int``; this file only wires them together, importing a module when its command runs.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Modules are imported lazily so `vlkit --help` stays fast.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "list": ("vlkit.cli", "list registered models (with model types), processors, builders, tasks, runners"),
    "train": ("vlkit.runners.cli_train", "train from a project config (model, datasets, run sections)"),
    "evaluate": ("vlkit.runners.cli_evaluate", "evaluate a model on the valid/test splits of a project config"),
    "data": ("vlkit.data.cli", "datasets: generate the synthetic world (synth), download annotations (download)"),
    "capfilt": (
        "vlkit.capfilt.cli",
        "bootstrap a web dataset: caption with a captioner, filter with ITM (BLIP CapFilt)",
    ),
    "quickstart": (
        "vlkit.quickstart",
        "the BLIP story on the synthetic world: noisy vs CapFilt-bootstrapped pre-training",
    ),
    "run": ("vlkit.pipelines.cli", "run a pipeline of stages (train / evaluate / capfilt), skipping finished ones"),
    "demo": ("vlkit.demo.cli", "a web page to try models: captioning, VQA, image-text matching, zero-shot (gradio)"),
    "predict": (
        "vlkit.predict.cli",
        "caption / vqa / itm / embed / classify a folder, json list or tar shards of images (resumable)",
    ),
}

LIST_KINDS = ("models", "processors", "builders", "tasks", "runners", "lr_schedulers")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``vlkit list``."""
    parser.add_argument("kind", choices=LIST_KINDS, help="what to list")


def main(args: argparse.Namespace) -> int:
    """``vlkit list KIND``: print registered names, one per line (models with their types)."""
    from vlkit.common.registry import registry

    kind = args.kind[:-1]  # "models" -> "model"
    reg = registry.of(kind)
    for name in reg.names():
        if kind == "model":
            types = sorted(getattr(reg.get(name), "PRETRAINED_MODEL_CONFIG_DICT", {}))
            print(f"{name}: {', '.join(types)}" if types else name)
        else:
            print(name)
    return 0


def register_subcommand(name: str, module: str, help_text: str) -> None:
    """Add a subcommand implemented by ``module`` (which defines ``add_arguments`` and ``main``)."""
    SUBCOMMANDS[name] = (module, help_text)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``command``'s module is imported (to add its arguments), so one broken or
    optional feature never stops the others from running."""
    parser = argparse.ArgumentParser(prog="vlkit", description="vlkit: BLIP vision-language models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        sp.set_defaults(_module=module)
        if name == command:
            importlib.import_module(module).add_arguments(sp)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the exit code."""
    from vlkit.common.config import ConfigError
    from vlkit.common.registry import RegistryKeyError

    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in SUBCOMMANDS else None).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(importlib.import_module(args._module).main(args) or 0)
    except (ConfigError, RegistryKeyError, FileNotFoundError, RuntimeError, ValueError) as err:
        if args.verbose:
            raise
        print(f"vlkit {args.command}: error: {err}", file=sys.stderr)
        print("(run with -v for the full traceback)", file=sys.stderr)
        return 2


def entry_point() -> None:
    """Console-script entry."""
    sys.exit(run())

"""``vlkit demo [--port 7860] [--device auto] [--dtype bfloat16] [--caption-model NAME:TYPE ...]``."""

from __future__ import annotations

import argparse

from vlkit.demo.inference import TASKS


def _name_type(text: str) -> tuple[str, str]:
    name, sep, model_type = text.partition(":")
    if not sep or not name or not model_type:
        raise argparse.ArgumentTypeError(f"expected NAME:TYPE (e.g. blip_caption:base_coco), got {text!r}")
    return name, model_type


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``vlkit demo``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: reachable from others)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:N")
    parser.add_argument("--dtype", default=None, help="inference dtype: bfloat16, float16 or float32 (default)")
    parser.add_argument("--share", action="store_true", help="also open a temporary public gradio.live link")
    for task, (_, (name, model_type)) in TASKS.items():
        parser.add_argument(
            f"--{task}-model",
            type=_name_type,
            default=None,
            metavar="NAME:TYPE",
            help=f"model preselected in the {task} tab (default {name}:{model_type})",
        )


def main(args: argparse.Namespace) -> int:
    """Build the page and serve it until interrupted."""
    import torch

    from vlkit.demo.app import build_app

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    defaults = {t: getattr(args, f"{t}_model") for t in TASKS if getattr(args, f"{t}_model") is not None}
    app = build_app(device=device, dtype=args.dtype, defaults=defaults)
    app.launch(server_name=args.host, server_port=args.port, share=args.share, ssr_mode=False)
    return 0

"""Training-step speed and peak memory: vlkit's caption fine-tuning step vs transformers' on the same weights, and
vlkit's pre-training step (ITC + ITM + LM).

A step is forward + backward + AdamW (fused, lr 1e-5, weight decay 0.05) on a batch of random images and captions of
the synthetic world. Each configuration ("arm") runs in a fresh subprocess, so its peak memory is that process's
resident-set high-water mark (``VmHWM``, reset after the model is built where Linux allows it) with nothing else in
it. Arms: transformers' ``BlipForConditionalGeneration`` without and with its activation checkpointing (reference),
vlkit's ``blip_caption`` without and with ``set_grad_checkpointing(True)`` (what ``run.grad_checkpointing`` does),
the latter also with AdamW run inside the backward pass (``vlkit+ckpt+inbwd``, ``run.optimizer_in_backward``),
and vlkit's ``blip_pretrain``. Each library runs with its own CPU malloc setting (transformers: glibc's default;
vlkit: ``run.cpu_allocator: reuse``, see vlkit/common/cpu_allocator.py); ``transformers+reuse`` and
``vlkit+system`` swap them, so the model code and the allocator are compared separately. Before training, each
caption arm computes the loss of the first batch in eval mode; vlkit's and transformers' must agree (same weights,
same task).

    python benchmarks/bench_train_step.py [--size base] [--batch 4] [--steps 3] [--repeats 3] [--threads 0]
    python benchmarks/bench_train_step.py --size tiny      # smoke run: tiny models at 64 px
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Callable

import torch
from _common import (
    Timing,
    emit_result,
    peak_rss_mib,
    print_header,
    ratio_text,
    reset_peak_rss,
    rss_mib,
    run_config_subprocess,
    synthetic_captions,
    time_repeats,
)
from _pairs import MODEL_TYPES, HfCaptionInputs, build_caption_pair, enable_hf_checkpointing

from vlkit.common.cpu_allocator import configure_cpu_allocator

CAPTION_ARMS = (
    "transformers",
    "transformers+reuse",
    "transformers+ckpt",
    "vlkit",
    "vlkit+system",
    "vlkit+ckpt",
    "vlkit+ckpt+inbwd",  # + run.optimizer_in_backward
)
VLKIT_CAPTION_ARMS = tuple(a for a in CAPTION_ARMS if a.startswith("vlkit"))
ARMS = (*CAPTION_ARMS, "vlkit-pretrain")


def arm_allocator(arm: str) -> str:
    """The CPU malloc setting of ``arm``: each library's own (transformers: the system's; vlkit: ``reuse``, as
    ``vlkit train`` sets ``run.cpu_allocator``), unless the arm names the other."""
    if arm.endswith(("+reuse", "+system")):
        return arm.rsplit("+", 1)[1]
    return "system" if arm.startswith("transformers") else "reuse"


LR, WEIGHT_DECAY = 1e-5, 0.05


def vlkit_optimizer(model: torch.nn.Module, in_backward: bool = False) -> torch.optim.Optimizer:
    """The optimizer ``vlkit train`` builds (BLIP's parameter groups, fused AdamW; ``in_backward``: stepped inside
    the backward pass, ``run.optimizer_in_backward``)."""
    from omegaconf import OmegaConf

    from vlkit.runners.optim import build_optimizer

    run = {"init_lr": LR, "weight_decay": WEIGHT_DECAY, "vit_lr_scale": 1.0, "optimizer_in_backward": in_backward}
    return build_optimizer(model, OmegaConf.create(run))


def build_arm(arm: str, args: argparse.Namespace) -> tuple[Callable[[], float], Callable[[], float]]:
    """``(one training step returning its loss, the eval-mode loss of the batch)`` for ``arm``."""
    torch.manual_seed(1)
    image_size = args.pretrain_image_size if arm == "vlkit-pretrain" else args.image_size
    images = torch.randn(args.batch, 3, image_size, image_size)
    samples = {"image": images, "text_input": synthetic_captions(args.batch, stream="bench_train_step")}
    if arm == "vlkit-pretrain":
        from vlkit.models import load_model

        torch.manual_seed(0)
        model = load_model("blip_pretrain", MODEL_TYPES[args.size]["pretrain"], pretrained=False, image_size=image_size)
        return _vlkit_step(model.train(), samples)
    hf, cap = build_caption_pair(args.size, image_size, keep_hf=arm.startswith("transformers"), is_eval=False)
    if hf is None:
        cap.set_grad_checkpointing("+ckpt" in arm)
        return _vlkit_step(cap, samples, in_backward=arm.endswith("+inbwd"))
    inputs = HfCaptionInputs.like(cap)
    del cap  # transformers' process holds transformers' model only
    gc.collect()
    if arm.endswith("+ckpt"):
        enable_hf_checkpointing(hf)
    optimizer = torch.optim.AdamW(hf.parameters(), lr=LR, weight_decay=WEIGHT_DECAY, fused=True)
    return _step(hf, optimizer, lambda: hf(pixel_values=images, **inputs(samples["text_input"])).loss)


def _vlkit_step(
    model: torch.nn.Module, samples: dict, in_backward: bool = False
) -> tuple[Callable[[], float], Callable[[], float]]:
    return _step(model, vlkit_optimizer(model, in_backward), lambda: model(samples).loss)


def _step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable[[], torch.Tensor]
) -> tuple[Callable[[], float], Callable[[], float]]:
    def step() -> float:
        loss = loss_fn()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss)

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            loss = float(loss_fn())
        model.train()
        return loss

    return step, eval_loss


def run_arm(arm: str, args: argparse.Namespace) -> None:
    """Subprocess body: build one arm, reset the memory peak, time the steps, print the result line."""
    configure_cpu_allocator(arm_allocator(arm), "allocator")
    step, eval_loss = build_arm(arm, args)
    loss = eval_loss() if arm in CAPTION_ARMS else None
    gc.collect()
    reset = reset_peak_rss()
    before = rss_mib()
    timing, _ = time_repeats(lambda: [step() for _ in range(args.steps)], args.repeats, warmup=1)
    emit_result(
        {
            "arm": arm,
            "seconds": list(timing.seconds),
            "peak_rss_mib": peak_rss_mib(),
            "rss_before_steps_mib": before,
            "peak_reset": reset,
            "eval_loss": loss,
        }
    )


def _forwarded(args: argparse.Namespace) -> list[str]:
    keys = ("size", "image_size", "pretrain_image_size", "batch", "steps", "repeats", "threads")
    return [a for k in keys for a in (f"--{k.replace('_', '-')}", str(getattr(args, k)))]


def report(results: dict[str, dict], args: argparse.Namespace) -> None:
    timings = {arm: Timing(tuple(r["seconds"])) for arm, r in results.items()}
    print(
        f"steps/s: median (min-max) of {args.repeats} repeats x {args.steps} steps; peak = VmHWM of the arm's process"
    )
    print(f"{'arm':18s} {'steps/s':>22s} {'samples/s':>10s} {'peak MiB':>9s} {'before MiB':>10s} {'eval loss':>10s}")
    for arm, r in results.items():
        loss = "-" if r["eval_loss"] is None else f"{r['eval_loss']:.5f}"
        print(
            f"{arm:18s} {timings[arm].rate_text(args.steps, 3):>22s} "
            f"{args.batch * timings[arm].rate(args.steps)[0]:10.2f} {r['peak_rss_mib']:9.0f} "
            f"{r['rss_before_steps_mib'] or float('nan'):10.0f} {loss:>10s}"
        )
    if not all(r["peak_reset"] for r in results.values()):
        print("note: the peak could not be reset after building; it includes model building")
    base = "transformers"
    if base in results:
        for arm in (*VLKIT_CAPTION_ARMS, "transformers+reuse", "transformers+ckpt"):
            if arm in results:
                mem = results[arm]["peak_rss_mib"] / results[base]["peak_rss_mib"]
                print(
                    f"{arm} vs {base}: speed {ratio_text(timings[base], timings[arm])} (ratio of medians), "
                    f"peak memory {mem:.2f}x ({(mem - 1) * 100:+.0f}%)"
                )
        for arm in VLKIT_CAPTION_ARMS:
            if arm in results:
                diff = abs(results[arm]["eval_loss"] - results[base]["eval_loss"])
                same = "yes" if diff < 1e-4 else "NO"
                print(f"same loss as {base} ({arm}, eval mode, first batch): {same} (|diff| {diff:.1e})")
    if "vlkit-pretrain" in results:
        print("vlkit-pretrain: ITC + ITM + LM step of blip_pretrain; transformers has no BLIP pre-training to compare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("base", "tiny"), default="base", help="tiny: a seconds-long smoke run")
    parser.add_argument("--image-size", type=int, default=0, help="caption step; default 384 (base), 64 (tiny)")
    parser.add_argument("--pretrain-image-size", type=int, default=0, help="default 224 (base), 64 (tiny)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=0, help="steps per timed repeat; default 3 (base), 1 (tiny)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--arm", choices=ARMS, help=argparse.SUPPRESS)  # internal: run one arm in this process
    args = parser.parse_args()
    tiny = args.size == "tiny"
    args.image_size = args.image_size or (64 if tiny else 384)
    args.pretrain_image_size = args.pretrain_image_size or (64 if tiny else 224)
    args.steps = args.steps or (1 if tiny else 3)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.arm:
        run_arm(args.arm, args)
        return
    print_header(
        "bench_train_step: caption fine-tuning step vs transformers, pre-training step",
        size=args.size,
        image_size=args.image_size,
        pretrain_image_size=args.pretrain_image_size,
        batch=args.batch,
        steps=args.steps,
        repeats=args.repeats,
        optimizer="AdamW fused",
    )
    results = {}
    for arm in args.arms:
        print(f"running arm {arm!r} in a fresh process ...", flush=True)
        results[arm] = run_config_subprocess(__file__, ["--arm", arm, *_forwarded(args)])
    report(results, args)


if __name__ == "__main__":
    main()

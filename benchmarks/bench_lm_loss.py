"""Training-step time of the LM loss computed only where a token is scored vs on every position.

The baseline is the same model and batch with the decoder asked for its full logits (``loss_only=False``,
what BLIP and transformers do: the vocabulary projection on every position, padding and prompt included);
vlkit's training forward passes use ``loss_only=True``. Captions are drawn from the synthetic world's
caption generator, so padding is as in real batches of that world.

Usage: python benchmarks/bench_lm_loss.py [--model-type tiny] [--batch-size 32] [--steps 12] [--threads 2]
"""

from __future__ import annotations

import argparse
import random
import time

import torch
from _common import synthetic_captions

from vlkit.models import load_model
from vlkit.models.med import MedForCausalLM


def step_seconds(model: torch.nn.Module, texts: list[str], args: argparse.Namespace, full_logits: bool) -> float:
    """Mean seconds of a forward + backward + AdamW step, the decoder forced to full logits if asked."""
    original = MedForCausalLM.forward

    def forward(self: MedForCausalLM, *a: object, **kw: object) -> object:
        if full_logits:
            kw["loss_only"] = False
        return original(self, *a, **kw)

    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rng = random.Random(0)
    image = torch.randn(args.batch_size, 3, args.image_size, args.image_size)
    MedForCausalLM.forward = forward
    try:
        times = []
        for _ in range(args.steps + 2):  # two warm-up steps
            text = rng.sample(texts, args.batch_size)
            batch = {"image": image, "text_input": text}
            start = time.perf_counter()
            loss = model(batch).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - start)
    finally:
        MedForCausalLM.forward = original
    return sum(times[2:]) / args.steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model-type", default="tiny")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    texts = synthetic_captions(2000, stream="bench_lm_loss")
    print(f"{args.model_type} models, batch {args.batch_size}, {args.image_size} px, {args.threads} threads (CPU)")
    for arch, extra in (("blip_pretrain", {"itm_negatives": "random"}), ("blip_caption", {})):
        torch.manual_seed(0)
        model = load_model(arch, args.model_type, pretrained=False, image_size=args.image_size, **extra).train()
        base = step_seconds(model, texts, args, full_logits=True)
        fast = step_seconds(model, texts, args, full_logits=False)
        print(f"{arch}: full logits {base:.3f} s/step, loss only {fast:.3f} s/step, speed-up x{base / fast:.2f}")


if __name__ == "__main__":
    main()

"""One prepared script for a lent GPU: pre-training throughput and MFU, inference vs transformers, DataLoader feed.

Sections (each prints as it goes; a failure is reported and the next section runs):
  a. ``blip_pretrain`` base at 224 px, bf16 autocast: steps/s (median of repeats) and MFU = FLOPs of one step
     (``torch.utils.flop_counter.FlopCounterMode``, forward + backward) x steps/s / the card's peak dense bf16 FLOP/s.
  b. caption generation (beam 3) and ITM scoring, vlkit vs transformers on the same random weights, bf16 autocast,
     384 px; and the COCO-5k retrieval evaluation time implied by vlkit's measured ITM cost per pair.
  c. whether the DataLoader keeps the GPU fed: the pre-training step fed by a DataLoader (workers decoding real JPEG
     files with vlkit's train processors) vs the same step on pre-made tensors already on the device.

Needs nothing outside the machine (random weights, synthetic JPEGs in a temp dir). ``--budget-s`` caps the whole
run: each section gets the time left divided by the sections left, and is stopped (reported as timed out) past it.

    python benchmarks/gpu_check.py [--budget-s 540] [--peak-tflops 989] [--sections a b c]
    python benchmarks/gpu_check.py --device cpu --size tiny      # seconds-long CPU smoke run (the test's)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import torch
from _common import (
    Timing,
    coco5k_extrapolation,
    hardware_name,
    print_header,
    ratio_text,
    synthetic_captions,
    time_repeats,
)

# Dense bf16 peak FLOP/s by card name (first match wins: specific names before their prefixes).
PEAK_BF16 = (
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("GH200", 989e12),
    ("H100", 989e12),  # SXM ("NVIDIA H100 80GB HBM3")
    ("H200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10G", 125e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
)
SECTIONS = {"a": "pre-training step throughput and MFU", "b": "inference vs transformers", "c": "DataLoader feed"}


class SectionTimeout(Exception):
    """Raised by the alarm when a section runs past its share of ``--budget-s``."""


def peak_flops(device: torch.device, override_tflops: float) -> tuple[float | None, str]:
    """``(peak dense bf16 FLOP/s or None, where it came from)``."""
    if override_tflops:
        return override_tflops * 1e12, "--peak-tflops"
    name = hardware_name(device)
    for key, flops in PEAK_BF16:
        if device.type == "cuda" and key in name:
            return flops, f"table entry {key!r}"
    return None, f"no table entry for {name!r}; pass --peak-tflops"


class Bench:
    """The run's settings and what sections share (the pre-training model and the batch size that fits)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = torch.device(args.device)
        self.tiny = args.size == "tiny"
        self.model_type = "tiny" if self.tiny else "base"
        self.pretrain_px = 64 if self.tiny else 224
        self.infer_px = 64 if self.tiny else 384
        self.batch = args.batch or (4 if self.tiny else 64)
        self.summary: list[str] = []
        self._pretrain: tuple | None = None

    def amp(self) -> contextlib.AbstractContextManager:
        if self.args.amp == "none":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def pretrain_model(self) -> tuple[torch.nn.Module, Callable[[dict], None]]:
        """vlkit's ``blip_pretrain`` (random weights) and its training step, built once and shared."""
        if self._pretrain is None:
            from bench_train_step import vlkit_optimizer

            from vlkit.models import load_model
            from vlkit.runners.amp import MixedPrecision

            torch.manual_seed(0)
            model = load_model("blip_pretrain", self.model_type, pretrained=False, image_size=self.pretrain_px)
            model = model.to(self.device).train()
            optimizer = vlkit_optimizer(model)
            precision = MixedPrecision(self.args.amp, self.device)
            params = [p for p in model.parameters() if p.requires_grad]

            def step(samples: dict) -> None:
                with precision.autocast():
                    loss = model(samples).loss
                precision.backward(loss)
                precision.step(optimizer, params, grad_clip=0.0)

            self._pretrain = (model, step)
        return self._pretrain

    def premade_samples(self, batch: int) -> dict:
        g = torch.Generator().manual_seed(2)
        image = torch.randn(batch, 3, self.pretrain_px, self.pretrain_px, generator=g).to(self.device)
        return {"image": image, "text_input": synthetic_captions(batch, stream="gpu_check")}

    def time_steps(self, step: Callable[[], None], steps: int) -> Timing:
        """``repeats`` timings of ``steps`` steps each, after ``--warmup`` steps."""
        for _ in range(self.args.warmup):
            step()
        timing, _ = time_repeats(lambda: [step() for _ in range(steps)], self.args.repeats, 0, self.device)
        return timing

    def note(self, line: str) -> None:
        print(line, flush=True)
        self.summary.append(line)


def section_a(b: Bench) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    model, step = b.pretrain_model()
    while True:
        try:
            samples = b.premade_samples(b.batch)
            step(samples)  # allocate optimizer state before counting
            with FlopCounterMode(display=False) as counter:
                step(samples)
            flops = counter.get_total_flops()
            timing = b.time_steps(lambda s=samples: step(s), b.args.steps)
            break
        except torch.cuda.OutOfMemoryError:
            if b.batch == 1:
                raise
            b.batch //= 2
            print(f"  out of memory: retrying with batch {b.batch}", flush=True)
            torch.cuda.empty_cache()
    med, lo, hi = timing.rate(b.args.steps)
    peak, source = peak_flops(b.device, b.args.peak_tflops)
    b.note(f"a. blip_pretrain {b.model_type} {b.pretrain_px} px, batch {b.batch}, amp {b.args.amp}")
    b.note(f"   steps/s {med:.3f} ({lo:.3f}-{hi:.3f}), samples/s {med * b.batch:.1f}, FLOPs/step {flops / 1e12:.3f} T")
    if peak is None:
        b.note(f"   MFU: n/a ({source})")
    else:
        b.note(f"   MFU {100 * flops * med / peak:.1f}% of {peak / 1e12:.0f} TFLOP/s ({source})")
    if b.device.type == "cuda":
        b.note(f"   peak GPU memory {torch.cuda.max_memory_allocated(b.device) / 2**30:.1f} GiB")


@torch.no_grad()
def section_b(b: Bench) -> None:
    from _pairs import build_caption_pair, build_itm_pair, time_caption_generation, time_itm
    from bench_retrieval_eval import unit_costs

    gen_batch, itm_batch = (2, 4) if b.tiny else (b.args.gen_batch, b.args.itm_batch)
    images = torch.randn(
        max(gen_batch, itm_batch), 3, b.infer_px, b.infer_px, generator=torch.Generator().manual_seed(1)
    )
    images = images.to(b.device)
    hf_cap, cap = (m.to(b.device) for m in build_caption_pair(b.model_type, b.infer_px))
    with b.amp():
        t_hf, t_vl, same = time_caption_generation(hf_cap, cap, images[:gen_batch], b.args.repeats)
    b.note(f"b. caption generation (beam 3, max 20, {b.infer_px} px, amp {b.args.amp}), batch {gen_batch}, img/s:")
    b.note(
        f"   transformers {t_hf.rate_text(gen_batch)}, vlkit {t_vl.rate_text(gen_batch)}, "
        f"ratio {ratio_text(t_hf, t_vl)}, same captions {same}/{gen_batch}"
    )
    del hf_cap, cap
    hf_ret, itm = (m.to(b.device) for m in build_itm_pair(b.model_type, b.infer_px))
    with b.amp():
        t_hf, t_vl, diff = time_itm(hf_ret, itm, images[:itm_batch], b.args.repeats)
    b.note(
        f"   ITM scoring, batch {itm_batch}, img/s: transformers {t_hf.rate_text(itm_batch)}, "
        f"vlkit {t_vl.rate_text(itm_batch)}, ratio {ratio_text(t_hf, t_vl)}, max abs logit diff {diff:.2e}"
    )
    chunks = (8, 4, 32) if b.tiny else (b.args.pair_chunk, 32, 1024)
    per_pair, per_image, per_text = unit_costs(itm, b.infer_px, chunks, b.args.repeats, b.amp())
    hardware = f"{hardware_name(b.device)}, amp {b.args.amp}, ITM chunks of {chunks[0]} pairs"
    b.note(
        "   "
        + coco5k_extrapolation(
            per_pair, per_image, per_text, hardware, f"blip_image_text_matching {b.model_type} at {b.infer_px} px"
        )
    )


def write_jpegs(root: Path, count: int, size: int) -> list[dict]:
    """``count`` rendered scenes as JPEG files, and their annotation entries (one caption each)."""
    from vlkit.data.synthetic.captions import clean_captions
    from vlkit.data.synthetic.render import ImageWriter
    from vlkit.data.synthetic.scene import random_scene, rng_for

    writer, annotation = ImageWriter(root, size), []
    for i in range(count):
        rng = rng_for(0, "gpu_check", i)
        scene = random_scene(rng)
        writer.write(f"{i:05d}.jpg", scene, rng)
        annotation.append({"image": f"{i:05d}.jpg", "caption": clean_captions(scene, rng, n=1)[0]})
    return annotation


def section_c(b: Bench) -> None:
    from torch.utils.data import DataLoader

    from vlkit.data.datasets.image_text import ImageTextPairDataset
    from vlkit.processors import load_processor

    files, file_px = (16, 96) if b.tiny else (b.args.jpeg_files, 512)
    workers = b.args.workers if b.args.workers >= 0 else min(8, os.cpu_count() or 1)
    model, step = b.pretrain_model()
    with tempfile.TemporaryDirectory(prefix="vlkit_gpu_check_") as tmp:
        start = time.perf_counter()
        annotation = write_jpegs(Path(tmp), files, file_px)
        print(f"   wrote {files} JPEGs of {file_px} px in {time.perf_counter() - start:.1f} s", flush=True)
        steps = b.args.steps
        needed = (b.args.warmup + steps * b.args.repeats + 1) * b.batch
        dataset = ImageTextPairDataset(
            [annotation[i % files] for i in range(needed)],
            load_processor("blip_image_train", {"image_size": b.pretrain_px}),
            load_processor("blip_caption", {}),
            tmp,
            "gpu_check",
        )
        loader = DataLoader(
            dataset,
            batch_size=b.batch,
            shuffle=True,
            num_workers=workers,
            pin_memory=b.device.type == "cuda",
            collate_fn=dataset.collater,
            drop_last=True,
            persistent_workers=workers > 0,
        )
        it = iter(loader)

        def fed_step() -> None:
            batch = next(it)
            step({"image": batch["image"].to(b.device, non_blocking=True), "text_input": batch["text_input"]})

        fed = b.time_steps(fed_step, steps)
        it = iter(loader)
        loader_only = b.time_steps(lambda: next(it), steps)
    premade = b.premade_samples(b.batch)
    tensors = b.time_steps(lambda: step(premade), steps)
    fed, tensors = fed.per(steps), tensors.per(steps)
    slowdown = fed.median / tensors.median
    b.note(f"c. DataLoader ({workers} workers, {b.pretrain_px} px train transform with RandAugment, batch {b.batch}):")
    b.note(f"   s/step: pre-made tensors {tensors.seconds_text()}, from JPEG files {fed.seconds_text()}")
    b.note(f"   loader alone {loader_only.rate_text(steps * b.batch, 1)} samples/s; fed/pre-made {slowdown:.2f}x")
    b.note(
        f"   {b.device.type.upper()} kept fed: {'yes' if slowdown <= 1.05 else 'NO'} "
        "(the fed step within 5% of the pre-made one)"
    )


def import_everything() -> None:
    """Import what the sections import, before any section's alarm is armed: an alarm that fires inside a first
    import (torch._dynamo's, say) leaves the module half-initialised and fails every later section."""
    import timm  # noqa: F401
    import torch._dynamo  # noqa: F401
    import transformers  # noqa: F401

    import vlkit.models  # noqa: F401
    import vlkit.runners  # noqa: F401


def run_sections(b: Bench, names: list[str], budget_s: float) -> dict[str, str]:
    """Run each section within its share of the budget; returns each section's status."""

    def alarm(signum: int, frame: object) -> None:
        raise SectionTimeout

    use_alarm = hasattr(signal, "SIGALRM")
    if use_alarm:
        signal.signal(signal.SIGALRM, alarm)
    deadline, status = time.monotonic() + budget_s, {}
    for i, name in enumerate(names):
        share = (deadline - time.monotonic()) / (len(names) - i)
        if share < 5:
            status[name] = "skipped (budget spent)"
            print(f"\n== section {name}: {SECTIONS[name]}: skipped, the budget is spent", flush=True)
            continue
        print(f"\n== section {name}: {SECTIONS[name]} (at most {share:.0f} s)", flush=True)
        start = time.monotonic()
        if use_alarm:
            signal.alarm(max(1, int(share)))
        try:
            {"a": section_a, "b": section_b, "c": section_c}[name](b)
            status[name] = f"ok ({time.monotonic() - start:.0f} s)"
        except SectionTimeout:
            status[name] = f"timed out after {share:.0f} s"
        except Exception as err:  # noqa: BLE001 - report the failure and go on to the next section
            traceback.print_exc()
            status[name] = f"FAILED: {type(err).__name__}: {err}".splitlines()[0][:300]
        finally:
            if use_alarm:
                signal.alarm(0)
        print(f"== section {name}: {status[name]}", flush=True)
        if b.device.type == "cuda":
            torch.cuda.empty_cache()
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", choices=("base", "tiny"), default="base", help="tiny: a seconds-long smoke run")
    parser.add_argument("--sections", nargs="+", choices=sorted(SECTIONS), default=sorted(SECTIONS))
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall-clock budget of the whole run")
    parser.add_argument("--amp", choices=("bf16", "none"), default="bf16")
    parser.add_argument(
        "--peak-tflops", type=float, default=0.0, help="the card's dense bf16 peak (overrides the table)"
    )
    parser.add_argument("--batch", type=int, default=0, help="pre-training batch; default 64 (tiny: 4), halved on OOM")
    parser.add_argument("--steps", type=int, default=0, help="steps per timed repeat; default 5 (tiny: 2)")
    parser.add_argument("--warmup", type=int, default=-1, help="untimed steps first; default 2 (tiny: 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    parser.add_argument("--gen-batch", type=int, default=32, help="caption generation batch (base)")
    parser.add_argument("--itm-batch", type=int, default=64, help="ITM scoring batch (base)")
    parser.add_argument("--pair-chunk", type=int, default=256, help="ITM pairs per call for the COCO-5k extrapolation")
    parser.add_argument("--jpeg-files", type=int, default=256, help="distinct JPEG files for section c")
    parser.add_argument("--workers", type=int, default=-1, help="DataLoader workers (default: min(8, cores))")
    args = parser.parse_args()
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    tiny = args.size == "tiny"
    args.steps = args.steps or (2 if tiny else 5)
    args.warmup = args.warmup if args.warmup >= 0 else (1 if tiny else 2)
    b = Bench(args)
    print_header(
        "gpu_check: BLIP pre-training MFU, inference vs transformers, DataLoader feed",
        b.device,
        size=args.size,
        amp=args.amp,
        sections=" ".join(args.sections),
        budget_s=args.budget_s,
    )
    if b.device.type == "cuda":
        print(f"cuda: {torch.version.cuda}  bf16 supported: {torch.cuda.is_bf16_supported()}", flush=True)
    import_everything()
    status = run_sections(b, args.sections, args.budget_s)
    print("\n== summary")
    for line in b.summary:
        print(line)
    for name, state in status.items():
        print(f"section {name} ({SECTIONS[name]}): {state}")
    sys.stdout.flush()
    return 0 if all(s.startswith("ok") for s in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

"""vlkit's decoding against transformers 4.15's own ``generate``: the code path the paper's numbers came from.

The original BLIP code (transformers==4.15.0) decoded with ``BertLMHeadModel.generate``. This script builds
BLIP-shaped decoders (vocab 30524, ``[DEC]`` 30522, ``[SEP]`` 102 as EOS, 12 heads) with random weights,
runs vlkit's ``generate`` on them in this Python, hands the same weights and inputs to ``tf415_worker.py``
under a Python that has transformers 4.15, and requires identical tokens for every image:

* ``caption``: beam 3, max 20, min 5, prompt ``[DEC] a picture of`` (the original caption eval);
* ``caption_penalty``: the same with repetition penalty 1.3 (the original accepts one; the rule is checked);
* ``vqa``: beam 3, max 10, min 1, prompt ``[DEC]`` over question states (the original VQA ``generate``);
* ``sample``: nucleus sampling, top-p 0.9, max 20, min 5, with BLIP's repetition penalty 1.1 and
  transformers' default top-k 50 (the original's ``sample=True``; same seed on both sides).

Beam cases run vlkit with ``length_normalization="full"`` (the default), and also with ``"generated"`` to
count the images on which the two normalisations pick different captions.

The transformers 4.15 environment (not needed by anything else in vlkit)::

    python3.11 -m venv /work/tf415-venv
    /work/tf415-venv/bin/pip install --no-deps transformers==4.15.0
    /work/tf415-venv/bin/pip install huggingface-hub==0.4.0 sacremoses regex requests tqdm pyyaml packaging filelock
    # torch (and numpy) are borrowed from vlkit's venv: link them, with their dist-info, into a path file
    S=/work/tf415-venv/torch-shim; M=<vlkit venv>/lib/python3.11/site-packages; mkdir -p $S
    for p in torch torchgen functorch nvidia cuda triton sympy mpmath networkx jinja2 markupsafe fsspec \\
             numpy numpy.libs $(cd $M; ls -d numpy-*.dist-info torch-*.dist-info); do
        [ -e $M/$p ] && ln -sfn $M/$p $S/$p; done
    echo $S > /work/tf415-venv/lib/python3.11/site-packages/torch_shim.pth

(tokenizers 0.10 does not build on Python 3.11; transformers 4.15 imports without it, and token ids need no
tokenizer.) Then::

    VLKIT_TF415_PYTHON=/work/tf415-venv/bin/python python benchmarks/verify_tf415_beam.py [--size small|base]

Exit status: 0 all identical, 1 a mismatch, 2 no transformers 4.15 environment (nothing was verified).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from vlkit.models.generation import GenerationConfig, generate
from vlkit.models.med import MedForCausalLM, med_config

DEC, SEP, PAD = 30522, 102, 0
CAPTION_PROMPT = [DEC, 1037, 3861, 1997]  # [DEC] a picture of
SETTINGS: dict[str, dict] = {
    "caption": dict(prompt=CAPTION_PROMPT, num_beams=3, max_length=20, min_length=5, repetition_penalty=1.0),
    "caption_penalty": dict(prompt=CAPTION_PROMPT, num_beams=3, max_length=20, min_length=5, repetition_penalty=1.3),
    "vqa": dict(prompt=[DEC], num_beams=3, max_length=10, min_length=1, repetition_penalty=1.0),
    "sample": dict(prompt=CAPTION_PROMPT, num_beams=1, max_length=20, min_length=5, repetition_penalty=1.1),
}
SIZES = {  # small: BLIP's vocabulary and heads at a CPU-friendly width; base: BLIP's base decoder
    "small": dict(hidden_size=384, num_layers=3, intermediate_size=1536, image_tokens=50, question_tokens=12),
    "base": dict(hidden_size=768, num_layers=12, intermediate_size=3072, image_tokens=577, question_tokens=12),
}
# (weight scale, EOS logit bias) per decoder: from long captions that hit max_length to early EOS endings
DECODER_VARIANTS = [(4.0, 2.0), (6.0, 5.0), (8.0, 8.0), (5.0, 11.0)]


def build_decoder(size: str, variant: int) -> MedForCausalLM:
    """A random BLIP-shaped decoder; weights scaled so that distributions are peaked, EOS made likely."""
    s = SIZES[size]
    cfg = med_config(
        "base",
        hidden_size=s["hidden_size"],
        num_layers=s["num_layers"],
        intermediate_size=s["intermediate_size"],
        encoder_width=s["hidden_size"],  # transformers 4.15's BERT cross-attends at its own width
    )
    torch.manual_seed(1000 + variant)
    model = MedForCausalLM(cfg).eval()
    scale, eos_bias = DECODER_VARIANTS[variant % len(DECODER_VARIANTS)]
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1 and "position" not in name:
                p.mul_(scale)
        model.cls.predictions.bias[SEP] += eos_bias
    return model


def make_cases(size: str, variant: int, seeds: int, batch: int) -> list[dict]:
    s = SIZES[size]
    cases = []
    for name, setting in SETTINGS.items():
        tokens = s["question_tokens"] if name == "vqa" else s["image_tokens"]
        for seed in range(seeds):
            gen = torch.Generator().manual_seed(10_000 * variant + 100 * seed + len(name))
            cases.append(
                dict(
                    setting=name,
                    seed=seed,
                    prompt=torch.tensor([setting["prompt"]] * batch),
                    features=torch.randn(batch, tokens, s["hidden_size"], generator=gen) * 2.0,
                    num_beams=setting["num_beams"],
                    max_length=setting["max_length"],
                    min_length=setting["min_length"],
                    repetition_penalty=setting["repetition_penalty"],
                    do_sample=name == "sample",
                    top_p=0.9,
                    eos_token_id=SEP,
                    pad_token_id=PAD,
                )
            )
    return cases


def run_vlkit(model: MedForCausalLM, case: dict, length_normalization: str) -> torch.Tensor:
    sample = case["do_sample"]
    cfg = GenerationConfig(
        num_beams=case["num_beams"],
        max_length=case["max_length"],
        min_length=case["min_length"],
        use_nucleus_sampling=sample,
        top_p=case["top_p"],
        top_k=50 if sample else 0,
        repetition_penalty=case["repetition_penalty"],
        length_normalization=length_normalization,
        bos_token_id=DEC,
        eos_token_id=SEP,
        pad_token_id=PAD,
    )
    generator = torch.Generator().manual_seed(case["seed"]) if sample else None
    return generate(model, case["prompt"], case["features"], None, cfg, generator=generator)


def rows(ids: torch.Tensor, prompt_len: int) -> list[list[int]]:
    """Each row up to and including its first EOS (the libraries pad differently after it)."""
    out = []
    for row in ids.tolist():
        out.append(row[: row.index(SEP, prompt_len) + 1] if SEP in row[prompt_len:] else row)
    return out


def find_tf415_python(arg: str | None) -> str | None:
    path = arg or os.environ.get("VLKIT_TF415_PYTHON")
    if not path or not Path(path).exists():
        return None
    probe = subprocess.run(
        [path, "-c", "import transformers; print(transformers.__version__)"], capture_output=True, text=True
    )
    return path if probe.returncode == 0 and probe.stdout.strip() == "4.15.0" else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tf415-python", help="Python with transformers==4.15.0 (default: $VLKIT_TF415_PYTHON)")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--decoders", type=int, default=4, help="random decoders (weight scale / EOS bias)")
    parser.add_argument("--seeds", type=int, default=12, help="input seeds per decoder and setting")
    parser.add_argument("--batch", type=int, default=4, help="images per generate call")
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args()
    python = find_tf415_python(args.tf415_python)
    if python is None:
        print(
            "NOT VERIFIED: no Python with transformers==4.15.0 found (pass --tf415-python or set "
            "VLKIT_TF415_PYTHON; how to build one is in this script's docstring).",
            file=sys.stderr,
        )
        return 2
    start = time.perf_counter()
    models = [build_decoder(args.size, v) for v in range(args.decoders)]
    cases = [make_cases(args.size, v, args.seeds, args.batch) for v in range(args.decoders)]
    with tempfile.TemporaryDirectory() as tmp:
        s = SIZES[args.size]
        shape = dict(
            vocab_size=30524,
            hidden_size=s["hidden_size"],
            num_layers=s["num_layers"],
            num_heads=12,
            intermediate_size=s["intermediate_size"],
            max_position_embeddings=512,
            layer_norm_eps=1e-12,
        )
        payload = {
            "shape": shape,
            "models": [{"state_dict": m.state_dict(), "cases": c} for m, c in zip(models, cases)],
        }
        torch.save(payload, f"{tmp}/cases.pt")
        worker = Path(__file__).with_name("tf415_worker.py")
        done = subprocess.run([python, str(worker), f"{tmp}/cases.pt", f"{tmp}/out.pt"])
        if done.returncode != 0:
            print("the transformers 4.15 worker failed", file=sys.stderr)
            return 1
        result = torch.load(f"{tmp}/out.pt")
    reference = result["outputs"]
    with torch.no_grad():
        logit_gap = max(
            float((m(c[0]["prompt"], encoder_hidden_states=c[0]["features"]).logits - ref).abs().max())
            for m, c, ref in zip(models, cases, result["logits"], strict=True)
        )
    stats: dict[str, dict[str, int]] = {}
    mismatches = []
    with torch.no_grad():
        for model, model_cases, ref_outputs in zip(models, cases, reference, strict=True):
            for case, ref in zip(model_cases, ref_outputs, strict=True):
                st = stats.setdefault(case["setting"], dict(images=0, identical=0, eos_ended=0, norms_disagree=0))
                p = case["prompt"].shape[1]
                expected = rows(ref, p)
                got = rows(run_vlkit(model, case, "full"), p)
                st["images"] += len(expected)
                st["identical"] += sum(a == b for a, b in zip(got, expected, strict=True))
                st["eos_ended"] += sum(r[-1] == SEP and len(r) > p for r in expected)
                for i, (a, b) in enumerate(zip(got, expected, strict=True)):
                    if a != b:
                        mismatches.append((case["setting"], case["seed"], i, a, b))
                if not case["do_sample"]:
                    other = rows(run_vlkit(model, case, "generated"), p)
                    st["norms_disagree"] += sum(a != b for a, b in zip(other, expected, strict=True))
    total = sum(st["images"] for st in stats.values())
    same = sum(st["identical"] for st in stats.values())
    print(f"decoder size {args.size}, {args.decoders} decoders x {args.seeds} seeds x {args.batch} images per setting")
    print(f"{'setting':16} {'images':>7} {'identical':>10} {'EOS-ended':>10} {'full != generated':>18}")
    for name, st in stats.items():
        disagree = "-" if name == "sample" else str(st["norms_disagree"])
        print(f"{name:16} {st['images']:7d} {st['identical']:10d} {st['eos_ended']:10d} {disagree:>18}")
    print(f"max |logit difference| on the prompt: {logit_gap:.2e}")
    print(f"{same}/{total} images identical to transformers 4.15 ({time.perf_counter() - start:.0f} s)")
    for m in mismatches[:5]:
        print("MISMATCH", m)
    if args.json:
        args.json.write_text(
            json.dumps({"size": args.size, "stats": stats, "identical": same, "images": total, "logit_gap": logit_gap})
        )
    return 0 if same == total else 1


if __name__ == "__main__":
    sys.exit(main())

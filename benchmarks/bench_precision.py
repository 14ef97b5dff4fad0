"""How far half-precision inference (``load_model(..., dtype=...)``) lands from float32, on the same weights.

For each size and dtype it builds a matching model and a captioner/VQA model with the same random weights
(seeded), casts a copy, and reports:

- ``itc``: max |cosine similarity| gap of the image-text similarity matrix (``match_head="itc"``);
- ``itm``: max gap of the ITM match probability (softmax of ``match_head="itm"``);
- ``logp``: max gap of the decoder's teacher-forced log-probabilities of the scored caption tokens;
- ``rank``: text→image ITC retrieval: share of the orders of two images for a text that stay the same, among
  those float32 separates by more than 2 × the ``itc`` gap (closer ones are ties at that precision);
  ``rank pairs`` counts them;
- ``beam`` / ``nucleus`` / ``vqa``: share of identical beam-3 captions, nucleus samples (same seed) and
  ranked VQA answers.

Random weights make token distributions flat, the hardest case for identical decoding; the gaps of the
scores themselves do not depend much on that. Trained or released checkpoints are measured the same way with
``--checkpoint-caption/--checkpoint-itm`` (a path, a saved directory or a Hub id; ``--size base`` for base
types) and ``--image-dir`` (real images through the eval processor).

    python benchmarks/bench_precision.py [--size tiny|base] [--image-size N] [--images 8] [--dtypes bfloat16 float16]
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch

from vlkit.models import load_model
from vlkit.models.precision import resolve_dtype

TEXTS = [
    "a picture of a red circle left of a blue square",
    "two green triangles",
    "a yellow square on a grey background",
    "a blue circle",
    "three small red squares in a row",
    "a dog on a beach",
]
ANSWERS = ["red", "blue", "green", "yellow", "two", "three", "yes", "no", "circle", "square"]


def _models(size: str, image_size: int, ckpt_caption: str | None, ckpt_itm: str | None) -> tuple:
    # base shapes on the tiny YAMLs (random weights, no download), or the base types when a checkpoint is given
    base = {"vit": "base", "med": "base", "embed_dim": 256}
    out = []
    for name, base_type, ckpt in (
        ("blip_image_text_matching", "base", ckpt_itm),
        ("blip_caption", "base_coco", ckpt_caption),
        ("blip_vqa", "vqav2", None),
    ):
        torch.manual_seed(0)
        if ckpt is None:
            mtype, over = "tiny", ({} if size == "tiny" else base)
        else:  # a saved directory restores its own config (vlkit.yaml)
            mtype, over = ("tiny" if size == "tiny" else base_type), {}
        out.append(
            load_model(name, mtype, pretrained=False, is_eval=True, checkpoint=ckpt, image_size=image_size, **over)
        )
    return tuple(out)


def _scored_logp(caption: torch.nn.Module, images: torch.Tensor, texts: list[str]) -> torch.Tensor:
    ids, atts = caption.tokenize(texts, first_token=caption.tokenizer.dec_token_id)
    embeds = caption.encode_image(images)
    logits = caption.text_decoder(ids, atts, encoder_hidden_states=embeds).logits.float()
    logp = logits[:, :-1].log_softmax(dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return logp[atts[:, 1:].bool()]


@torch.no_grad()
def measure(models: tuple, half: tuple, images: torch.Tensor) -> dict[str, float]:
    itm, cap, vqa = models
    itm_h, cap_h, vqa_h = half
    texts = (TEXTS * (images.shape[0] // len(TEXTS) + 1))[: images.shape[0]]
    out: dict[str, float] = {}
    sims = itm.match({"image": images, "text_input": TEXTS}, match_head="itc").float()
    sims_h = itm_h.match({"image": images, "text_input": TEXTS}, match_head="itc").float()
    out["itc"] = (sims - sims_h).abs().max().item()
    prob = itm.match({"image": images, "text_input": texts}, match_head="itm").float().softmax(-1)[:, 1]
    prob_h = itm_h.match({"image": images, "text_input": texts}, match_head="itm").float().softmax(-1)[:, 1]
    out["itm"] = (prob - prob_h).abs().max().item()
    agree, pairs = ranking_agreement(sims.t(), sims_h.t(), margin=2 * out["itc"])
    out["rank"], out["rank pairs"] = agree, pairs
    out["logp"] = (_scored_logp(cap, images, texts) - _scored_logp(cap_h, images, texts)).abs().max().item()
    kw = {"num_beams": 3, "max_length": 20, "min_length": 5}
    out["beam"] = _agree(cap.generate({"image": images}, **kw), cap_h.generate({"image": images}, **kw))
    samples = []
    for model in (cap, cap_h):
        torch.manual_seed(0)
        samples.append(model.generate({"image": images}, use_nucleus_sampling=True, max_length=20, min_length=5))
    out["nucleus"] = _agree(*samples)
    q = {"image": images, "text_input": ["what colour is the shape"] * images.shape[0]}
    rank = {"inference_method": "rank", "answer_list": ANSWERS, "num_ans_candidates": 4}
    out["vqa"] = _agree(vqa.predict_answers(q, **rank), vqa_h.predict_answers(q, **rank))
    return out


def ranking_agreement(scores: torch.Tensor, other: torch.Tensor, margin: float) -> tuple[float, int]:
    """Share of (query, candidate i, candidate j) orders that ``other`` keeps, among those ``scores`` separates
    by more than ``margin``; and how many there were."""
    diff, diff_o = scores[:, :, None] - scores[:, None, :], other[:, :, None] - other[:, None, :]
    clear = diff > margin
    return ((diff_o > 0) & clear).sum().item() / max(1, clear.sum().item()), int(clear.sum())


def test_images(n: int, size: int) -> torch.Tensor:
    """``n`` distinguishable images: flat levels from dark to bright plus a little noise (seeded)."""
    gen = torch.Generator().manual_seed(1)
    levels = torch.linspace(-2, 2, n)[:, None, None, None].expand(n, 3, size, size)
    return levels + 0.1 * torch.randn(n, 3, size, size, generator=gen)


def _agree(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b)) / len(a)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=["tiny", "base"], default="tiny")
    parser.add_argument("--image-size", type=int, default=None, help="default: 64 (tiny), 224 (base)")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--dtypes", nargs="+", default=["bfloat16", "float16"])
    parser.add_argument("--checkpoint-caption", default=None)
    parser.add_argument("--checkpoint-itm", default=None)
    parser.add_argument("--image-dir", default=None, help="real images (first --images files, sorted) instead")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    image_size = args.image_size or (64 if args.size == "tiny" else 224)
    models = _models(args.size, image_size, args.checkpoint_caption, args.checkpoint_itm)
    if args.image_dir:
        from PIL import Image

        from vlkit.processors import load_processor

        vis = load_processor("blip_image_eval", {"image_size": image_size})
        files = sorted(p for p in Path(args.image_dir).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        images = torch.stack([vis(Image.open(p).convert("RGB")) for p in files[: args.images]])
    else:
        images = test_images(args.images, image_size)
    print(f"size={args.size} image_size={image_size} images={args.images} torch={torch.__version__}")
    for name in args.dtypes:
        dtype = resolve_dtype(name)
        half = tuple(copy.deepcopy(m).to(dtype) for m in models)
        res = measure(models, half, images)
        print(name, " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()))


if __name__ == "__main__":
    main()

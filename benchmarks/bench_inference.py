"""vlkit vs transformers' BLIP on the same random base-size weights, CPU, 384 px.

Measures caption generation (beam 3, max 20, batch 8), ITM scoring and image feature extraction,
checks that both produce the same outputs, and prints throughput and the vlkit/transformers ratio.

    python benchmarks/bench_inference.py [--batch 8] [--repeats 3] [--image-size 384] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch


def _best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    fn()  # warm-up
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def build(image_size: int) -> tuple:
    import transformers

    from vlkit.models import load_model
    from vlkit.models.convert_hf import hf_blip_to_vlkit

    text = dict(num_attention_heads=12, vocab_size=30524, bos_token_id=30522, sep_token_id=102, pad_token_id=0)
    vision = dict(image_size=image_size, layer_norm_eps=1e-6)
    cfg = transformers.BlipConfig(text_config=text, vision_config=vision)
    torch.manual_seed(0)
    hf_cap = transformers.BlipForConditionalGeneration(cfg).eval()
    hf_ret = transformers.BlipForImageTextRetrieval(cfg).eval()
    cap = load_model("blip_caption", "base_coco", pretrained=False, image_size=image_size, is_eval=True)
    cap.load_checkpoint(hf_blip_to_vlkit(hf_cap.state_dict(), "caption"), strict=False)
    itm = load_model(
        "blip_image_text_matching", "base", pretrained=False, image_size=image_size, is_eval=True, itm_first_token="cls"
    )
    itm.load_checkpoint(hf_blip_to_vlkit(hf_ret.state_dict(), "retrieval"), strict=True)
    return hf_cap, hf_ret, cap, itm


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=384)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    hf_cap, hf_ret, cap, itm = build(args.image_size)
    torch.manual_seed(1)
    images = torch.randn(args.batch, 3, args.image_size, args.image_size)
    texts = ["a picture of a dog on a sofa"] * args.batch
    prompt = torch.tensor([[30522, 1037, 3861, 1997, 102]] * args.batch)
    rows = []

    t_hf, out_hf = _best_time(
        lambda: hf_cap.generate(pixel_values=images, input_ids=prompt, num_beams=3, max_length=20, min_length=5),
        args.repeats,
    )
    t_vl, out_vl = _best_time(
        lambda: cap.generate({"image": images}, num_beams=3, max_length=20, min_length=5), args.repeats
    )
    decoded_hf = [
        c.removeprefix("a picture of").strip() for c in cap.tokenizer.batch_decode(out_hf, skip_special_tokens=True)
    ]
    rows.append(("caption generation (beam 3, max 20)", t_hf, t_vl, decoded_hf == out_vl))

    enc = cap.tokenizer(texts, return_tensors="pt", padding=True)
    t_hf, s_hf = _best_time(
        lambda: (
            hf_ret(
                pixel_values=images, input_ids=enc.input_ids, attention_mask=enc.attention_mask, use_itm_head=True
            ).itm_score
        ),
        args.repeats,
    )
    t_vl, s_vl = _best_time(lambda: itm.match({"image": images, "text_input": texts}, match_head="itm"), args.repeats)
    rows.append(("ITM scoring", t_hf, t_vl, bool((s_hf - s_vl).abs().max() < 1e-3)))

    t_hf, f_hf = _best_time(lambda: hf_ret.vision_model(pixel_values=images).last_hidden_state, args.repeats)
    t_vl, f_vl = _best_time(lambda: itm.visual_encoder(images), args.repeats)
    rows.append(("image features", t_hf, t_vl, bool((f_hf - f_vl).abs().max() < 1e-3)))

    print(f"batch {args.batch}, {args.image_size} px, {torch.get_num_threads()} threads, best of {args.repeats}")
    print(f"{'workload':38s} {'transformers img/s':>18s} {'vlkit img/s':>12s} {'ratio':>7s}  same output")
    for name, t_hf, t_vl, same in rows:
        print(f"{name:38s} {args.batch / t_hf:18.2f} {args.batch / t_vl:12.2f} {t_hf / t_vl:6.2f}x  {same}")


if __name__ == "__main__":
    main()

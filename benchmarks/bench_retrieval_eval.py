"""Retrieval evaluation with the ITM re-rank batched across queries vs row by row, and an extrapolated COCO-5k time.

A synthetic set of N images x 5 captions (the shapes world's renderer and caption generator, JPEG files in a temp
dir) goes through vlkit's real path: ``RetrievalEvalDataset`` + the eval processors, then
``RetrievalTask.score_matrices`` (ITC for all pairs, ITM re-rank of each query's top ``k_test``) and the recall
metrics, with the ``tiny`` ``blip_retrieval`` model. The baseline is BLIP's loop (:func:`evaluate_blip_loop`: one
query per ITM pass, each pair projecting its image to cross-attention keys, texts padded to the longest), which is
also what vlkit did before; vlkit's default batches ``itm_pairs_per_call`` pairs of length-sorted queries per
pass and projects each image's keys and values once per pass. The metrics of both must be identical.

Then it measures the unit costs of a base model at 384 px (image encoding, text encoding, ITM per pair, in
chunks of ``--pair-chunk``) on this hardware and prints the COCO-5k evaluation time they imply, labelled as an
extrapolation.

    python benchmarks/bench_retrieval_eval.py [--images 1000] [--k-test 16] [--pairs-per-call 256] [--repeats 3]
    python benchmarks/bench_retrieval_eval.py --size tiny      # smoke run: 20 images, tiny extrapolation model
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

import torch
from _common import (
    coco5k_extrapolation,
    hardware_name,
    print_header,
    ratio_text,
    synthetic_captions,
    time_pair,
    time_repeats,
)
from torch.utils.data import DataLoader

from vlkit.models import load_model
from vlkit.tasks.retrieval import RetrievalRunConfig, RetrievalTask


def write_retrieval_set(root: Path, images: int, image_px: int, seed: int = 0) -> object:
    """``images`` rendered scenes with 5 captions each under ``root``, as a ``RetrievalEvalDataset``."""
    from vlkit.data.datasets.image_text import RetrievalEvalDataset
    from vlkit.data.synthetic.captions import clean_captions
    from vlkit.data.synthetic.render import ImageWriter
    from vlkit.data.synthetic.scene import random_scene, rng_for
    from vlkit.processors import load_processor

    writer, annotation = ImageWriter(root, image_px), []
    for i in range(images):
        rng = rng_for(seed, "bench_retrieval_eval", i)
        scene = random_scene(rng)
        captions = clean_captions(scene, rng, n=5)
        writer.write(f"{i:05d}.jpg", scene, rng)
        annotation.append({"image": f"{i:05d}.jpg", "caption": captions})
    return RetrievalEvalDataset(
        annotation,
        load_processor("blip_image_eval", {"image_size": image_px}),
        load_processor("blip_caption", {}),
        root,
        "bench_retrieval_eval",
    )


def evaluate(model: torch.nn.Module, dataset: object, k_test: int, pairs_per_call: int) -> tuple[dict, tuple]:
    """``(metrics, (scores_i2t, scores_t2i))`` of vlkit's retrieval evaluation (its defaults but these two)."""
    task = RetrievalTask()
    task.run_cfg = RetrievalRunConfig(task="retrieval", k_test=k_test, itm_pairs_per_call=pairs_per_call)
    task.progress_mode = "off"
    scores = task.score_matrices(model, dataset, batch_size=64)
    return task.metrics(*scores, dataset), scores


@torch.no_grad()
def evaluate_blip_loop(model: torch.nn.Module, dataset: object, k_test: int) -> tuple[dict, tuple]:
    """The baseline: BLIP's evaluation loop with vlkit's model. One query per ITM pass; the query image's features
    repeated for each of its k candidate texts (so each pair projects them to cross-attention keys again); texts
    padded to the longest of all. This is also what vlkit did before batching (2026-12-06)."""
    texts = list(dataset.text)
    _, ids, atts, text_proj = model.text_features(texts)
    loader = DataLoader(dataset, batch_size=64, shuffle=False, collate_fn=dataset.collater)
    feats = [model.image_features(b["image"]) for b in loader]
    image_embeds, image_proj = torch.cat([f[0] for f in feats]), torch.cat([f[1] for f in feats])
    sims = image_proj @ text_proj.T
    scores_i2t, scores_t2i = torch.full_like(sims, -100.0), torch.full_like(sims.T, -100.0)
    for i in range(sims.shape[0]):
        top_sim, top = sims[i].topk(k_test)
        itm = model.itm_scores(image_embeds[i].repeat(k_test, 1, 1), ids[top], atts[top])
        scores_i2t[i, top] = itm + top_sim
    for t in range(sims.shape[1]):
        top_sim, top = sims[:, t].topk(k_test)
        itm = model.itm_scores(image_embeds[top], ids[t].repeat(k_test, 1), atts[t].repeat(k_test, 1))
        scores_t2i[t, top] = itm + top_sim
    task = RetrievalTask()
    return task.metrics(scores_i2t, scores_t2i, dataset), (scores_i2t, scores_t2i)


@torch.no_grad()
def unit_costs(
    model: torch.nn.Module,
    image_px: int,
    chunks: tuple[int, int, int],
    repeats: int,
    amp: contextlib.AbstractContextManager | None = None,
) -> tuple[float, float, float]:
    """Median seconds per ITM pair, per image encoded and per text encoded (``chunks``: pairs, images, texts per
    call) of a model with ``image_features``/``text_features``/``itm_scores``, on the model's device."""
    pair_chunk, image_chunk, text_chunk = chunks
    device = model.device
    texts = synthetic_captions(text_chunk, stream="bench_retrieval_eval/units")
    images = torch.randn(image_chunk, 3, image_px, image_px, device=device)
    with amp or contextlib.nullcontext():
        t_img, (embeds, _) = time_repeats(lambda: model.image_features(images), repeats, device=device)
        t_txt, (_, ids, atts, _) = time_repeats(lambda: model.text_features(texts), repeats, device=device)
        rows = torch.arange(pair_chunk, device=device)
        pair_images, pair_ids, pair_atts = embeds[rows % len(embeds)], ids[rows % len(ids)], atts[rows % len(ids)]
        t_itm, _ = time_repeats(lambda: model.itm_scores(pair_images, pair_ids, pair_atts), repeats, device=device)
    return t_itm.median / pair_chunk, t_img.median / image_chunk, t_txt.median / text_chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("base", "tiny"), default="base", help="tiny: a seconds-long smoke run")
    parser.add_argument("--images", type=int, default=0, help="images of the synthetic set; default 1000 (tiny: 20)")
    parser.add_argument("--image-px", type=int, default=64, help="the tiny retrieval model's image size")
    parser.add_argument("--k-test", type=int, default=0, help="candidates re-ranked per query; default 16 (tiny: 4)")
    parser.add_argument("--pairs-per-call", type=int, default=256, help="run.itm_pairs_per_call of the batched run")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (the median is reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--pair-chunk", type=int, default=0, help="ITM pairs per call when measuring the unit cost")
    parser.add_argument("--skip-extrapolation", action="store_true")
    args = parser.parse_args()
    tiny = args.size == "tiny"
    args.images = args.images or (20 if tiny else 1000)
    args.k_test = args.k_test or (4 if tiny else 16)
    args.pair_chunk = args.pair_chunk or (8 if tiny else 16)
    args.unit_chunks = (4, 32) if tiny else (8, 256)  # images, texts per call when measuring unit costs
    if args.threads:
        torch.set_num_threads(args.threads)
    print_header(
        "bench_retrieval_eval: ITM re-rank batched across queries vs row by row",
        images=args.images,
        captions=args.images * 5,
        model="blip_retrieval tiny (random weights)",
        k_test=args.k_test,
        itm_pairs_per_call=args.pairs_per_call,
        repeats=args.repeats,
    )
    if args.pairs_per_call < 2 * args.k_test:
        print(f"note: itm_pairs_per_call {args.pairs_per_call} < 2 x k_test: each call still holds one query")
    torch.manual_seed(0)
    model = load_model("blip_retrieval", "tiny", pretrained=False, image_size=args.image_px, is_eval=True)
    with tempfile.TemporaryDirectory(prefix="vlkit_bench_retrieval_") as tmp:
        dataset = write_retrieval_set(Path(tmp), args.images, args.image_px)
        (t_row, (m_row, s_row)), (t_bat, (m_bat, s_bat)) = time_pair(
            lambda: evaluate_blip_loop(model, dataset, args.k_test),
            lambda: evaluate(model, dataset, args.k_test, args.pairs_per_call),
            args.repeats,
            warmup=0,
        )
    diff = max(float((a - b).abs().max()) for a, b in zip(s_row, s_bat))
    print(f"evaluation time, median (min-max) of {args.repeats}:")
    print(f"  BLIP's loop (one query per pass, image features repeated per pair): {t_row.seconds_text()}")
    print(f"  vlkit (itm_pairs_per_call={args.pairs_per_call}; image keys once per pass): {t_bat.seconds_text()}")
    print(f"speed-up (ratio of medians): {ratio_text(t_row, t_bat)}")
    print(f"metrics identical: {'yes' if m_row == m_bat else 'NO'} (max abs score diff {diff:.1e})")
    print("metrics: " + ", ".join(f"{k}={v:.2f}" for k, v in m_bat.items()))
    if m_row != m_bat:
        print("  row by row: " + ", ".join(f"{k}={v:.2f}" for k, v in m_row.items()))
    if args.skip_extrapolation:
        return
    model_type, px = ("tiny", args.image_px) if tiny else ("coco", 384)
    torch.manual_seed(0)
    base = load_model("blip_retrieval", model_type, pretrained=False, image_size=px, is_eval=True)
    per_pair, per_image, per_text = unit_costs(base, px, (args.pair_chunk, *args.unit_chunks), args.repeats)
    print(
        f"unit costs (median of {args.repeats}): ITM {per_pair * 1e3:.3f} ms/pair (chunks of {args.pair_chunk}), "
        f"image {per_image * 1e3:.2f} ms, text {per_text * 1e3:.3f} ms"
    )
    hardware = f"{hardware_name()} ({torch.get_num_threads()} threads)"
    print(coco5k_extrapolation(per_pair, per_image, per_text, hardware, f"blip_retrieval {model_type} at {px} px"))


if __name__ == "__main__":
    main()

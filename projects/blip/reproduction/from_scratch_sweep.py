"""How a tiny ``blip_retrieval`` learns ITC and ITM from random weights, on the synthetic shapes world.

Trains on the human-annotated pairs (``coco`` train split, no augmentation, images held on the device)
with a hand-written loop so that many settings can run side by side, and every ``--every`` steps prints
one JSON line with:

- ``r1``: ITC text→image R@1 on the 90 test images (chance 1.1 %);
- ``itm_auc`` / ``p_pos`` / ``p_neg``: ITM match probability of each test caption with its own image vs a
  random other image (AUC 0.5 = no separation);
- ``web_auc`` / ``web_itc_auc``: how well the ITM score / the ITC cosine separates clean from noisy web
  pairs (the filter's job in CapFilt); ``web_p``: mean ITM score per noise kind; ``web_prec`` /
  ``web_rec``: noise precision/recall of the filter at threshold 0.5.

    python projects/blip/reproduction/from_scratch_sweep.py --steps 2000 --lr 3e-4 --seed 1 [--device cuda]

docs/training.md ("Training a tiny model from scratch") lists the settings that were compared and the
outcome of each run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--name", default="run", help="prefix of every printed line")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--every", type=int, default=250, help="evaluate every N steps")
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--warmup", type=int, default=50, help="linear warm-up steps (then cosine to 0)")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--queue-size", type=int, default=64)
    p.add_argument("--alpha", type=float, default=0.0)
    p.add_argument("--negatives", choices=["hard", "random"], default="hard", help="model.itm_negatives")
    p.add_argument("--no-itc", action="store_true", help="train on the ITM loss alone")
    p.add_argument("--itm-start", type=int, default=0, help="add the ITM loss only from this step on")
    p.add_argument("--head-lr-mult", type=float, default=1.0, help="learning-rate multiplier of the ITM head")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CUDA)")
    p.add_argument("--no-dropout", action="store_true", help="turn off the text encoder's dropout")
    p.add_argument("--text-init-std", type=float, default=None, help="re-initialise the text encoder's linear layers")
    p.add_argument("--init", default=None, help="start from these weights (e.g. warm_start.py's output), non-strictly")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=2, help="torch threads on CPU")
    p.add_argument("--out", default=None, help="also write the evaluation log to this JSON file")
    return p.parse_args(argv)


def load_pairs(root: Path, annotation: str, image_dir: str, size: int) -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """Images (eval transform, deduplicated) ``[N,3,H,W]``, captions, and each caption's image index."""
    from vlkit.processors.image import BlipImageEvalConfig, BlipImageEvalProcessor

    proc = BlipImageEvalProcessor(BlipImageEvalConfig(image_size=size))
    anns = json.loads((root / annotation).read_text(encoding="utf-8"))
    listed = [(a["image"], a["caption"] if isinstance(a["caption"], list) else [a["caption"]]) for a in anns]
    pairs = [(image, c) for image, caps in listed for c in caps]
    paths = sorted({p for p, _ in pairs})
    index = {p: i for i, p in enumerate(paths)}
    with torch.no_grad():
        images = torch.stack([proc(Image.open(root / image_dir / p).convert("RGB")) for p in paths])
    return images, [c for _, c in pairs], torch.tensor([index[p] for p, _ in pairs])


def auc(pos: torch.Tensor, neg: torch.Tensor) -> float:
    """P(score of a positive > score of a negative): the CapFilt report's Mann-Whitney AUC."""
    from vlkit.capfilt.outputs import _auc

    return _auc(pos.tolist(), neg.tolist())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from vlkit.data.synthetic.world import ensure_world
    from vlkit.models import load_model

    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(args.threads)

    root = ensure_world()
    tr_img, tr_txt, tr_idx = load_pairs(root / "coco", "annotations/coco_karpathy_train.json", "images", 64)
    te_img, te_txt, te_idx = load_pairs(root / "coco", "annotations/coco_karpathy_test.json", "images", 64)
    web_img, web_txt, web_idx = load_pairs(root / "web", "annotations/web_train.json", ".", 64)
    labels = json.loads((root / "web" / "noise_labels.json").read_text(encoding="utf-8"))
    web_anns = json.loads((root / "web" / "annotations" / "web_train.json").read_text(encoding="utf-8"))
    keys = [Path(a["image"]).stem for a in web_anns]
    noisy = torch.tensor([bool(labels[k]["noisy"]) for k in keys])
    kinds = [labels[k]["kind"] for k in keys]
    tr_img, te_img, web_img = tr_img.to(dev), te_img.to(dev), web_img.to(dev)

    model = load_model(
        "blip_retrieval",
        "tiny",
        pretrained=False,
        momentum=args.momentum,
        queue_size=args.queue_size,
        alpha=args.alpha,
        itm_negatives=args.negatives,
    ).to(dev)
    if args.text_init_std is not None:
        for module in [*model.text_encoder.modules(), *model.text_encoder_m.modules()]:
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.normal_(module.weight, std=args.text_init_std)
        model.copy_to_momentum()
    if args.init:
        model.load_checkpoint(args.init, strict=False)  # the momentum encoders are copied from the loaded ones
    if args.no_dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
            elif isinstance(getattr(module, "dropout", None), float):  # attention-probability dropout
                module.dropout = 0.0
    model.train()
    head = [p for n, p in model.named_parameters() if n.startswith("itm_head.") and p.requires_grad]
    rest = [p for n, p in model.named_parameters() if not n.startswith("itm_head.") and p.requires_grad]
    groups = [{"params": rest, "lr": args.lr}, {"params": head, "lr": args.lr * args.head_lr_mult}]
    opt = torch.optim.AdamW(groups, weight_decay=args.weight_decay)
    base_lrs = [g["lr"] for g in opt.param_groups]

    @torch.no_grad()
    def itm_prob(image_embeds: torch.Tensor, texts: list[str]) -> torch.Tensor:
        ids, atts = model.tokenize(texts)
        ids[:, 0] = model.enc_token_id
        out = model.text_encoder(ids, atts, encoder_hidden_states=image_embeds, mode="multimodal").last_hidden_state
        return model.itm_head(out[:, 0]).float().softmax(-1)[:, 1].cpu()

    @torch.no_grad()
    def text_feats(texts: list[str]) -> torch.Tensor:
        ids, atts = model.tokenize(texts)
        return F.normalize(model.text_proj(model.text_encoder(ids, atts, mode="text").last_hidden_state[:, 0]), dim=-1)

    @torch.no_grad()
    def evaluate() -> dict:
        model.eval()
        emb = model.encode_image(te_img)
        img_feat = F.normalize(model.vision_proj(emb[:, 0]), dim=-1)
        r1 = ((text_feats(te_txt) @ img_feat.T).argmax(1).cpu() == te_idx).float().mean().item()
        gen = torch.Generator().manual_seed(1)
        other = (te_idx + torch.randint(1, len(te_img), (len(te_idx),), generator=gen)) % len(te_img)
        p_pos, p_neg = itm_prob(emb[te_idx.to(dev)], te_txt), itm_prob(emb[other.to(dev)], te_txt)
        web_emb = model.encode_image(web_img)
        p_web = itm_prob(web_emb[web_idx.to(dev)], web_txt)
        cos = (F.normalize(model.vision_proj(web_emb[:, 0]), dim=-1)[web_idx.to(dev)] * text_feats(web_txt)).sum(-1)
        removed = p_web < 0.5
        per_kind = {
            k: round(p_web[[i for i, x in enumerate(kinds) if x == k]].mean().item(), 3) for k in sorted(set(kinds))
        }
        model.train()
        return {
            "r1": round(r1, 3),
            "itm_auc": round(auc(p_pos, p_neg), 3),
            "p_pos": round(p_pos.mean().item(), 3),
            "p_neg": round(p_neg.mean().item(), 3),
            "web_auc": round(auc(p_web[~noisy], p_web[noisy]), 3),
            "web_itc_auc": round(auc(cos.cpu()[~noisy], cos.cpu()[noisy]), 3),
            "web_prec": round((removed & noisy).sum().item() / max(1, removed.sum().item()), 3),
            "web_rec": round((removed & noisy).sum().item() / max(1, noisy.sum().item()), 3),
            "web_p": per_kind,
        }

    log, start = [], time.time()
    for step in range(args.steps + 1):
        if step % args.every == 0 or step == args.steps:
            ev = {"step": step, **evaluate(), "seconds": round(time.time() - start, 1)}
            log.append(ev)
            print(args.name, json.dumps(ev), flush=True)
        if step == args.steps:
            break
        scale = min(1.0, (step + 1) / args.warmup) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for group, lr in zip(opt.param_groups, base_lrs, strict=True):
            group["lr"] = lr * scale
        pick = torch.randint(0, len(tr_txt), (args.batch_size,))
        samples = {
            "image": tr_img[tr_idx[pick].to(dev)],
            "text_input": [tr_txt[i] for i in pick.tolist()],
            "image_id": tr_idx[pick],
        }
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.bf16):
            out = model(samples)
        loss = (0 if args.no_itc else out.loss_itc) + (out.loss_itm if step >= args.itm_start else 0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    if args.out:
        Path(args.out).write_text(json.dumps({"args": vars(args), "log": log}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

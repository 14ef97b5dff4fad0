"""Unimodal warm start for the ``tiny`` encoders: the miniature of BLIP's ImageNet ViT + BERT initialisation.

BLIP never trains its encoders from random weights: the ViT comes from ImageNet classification and the
text transformer from BERT's masked-language modelling. This script gives the ``tiny`` configs the same
kind of start on the synthetic shapes world, from data the evaluation never sees (freshly drawn scenes,
the NoCaps-style held-out objects excluded):

- **vision** — the ViT (position embeddings started from a fixed 2-D sine-cosine grid, as in MAE)
  learns, from its [CLS] token, to classify every grid cell's colour, shape and size, the background
  kind and which colours and shapes are present: a supervised, ImageNet-like task;
- **text** — the text transformer learns BERT's masked-language modelling (15 % of tokens; 80 % [MASK],
  10 % random, 10 % kept) on human-style captions of those scenes, with BLIP's own LM head.

The output is a ``.safetensors`` file of ``visual_encoder.*``, ``text_encoder.*`` and
``text_decoder.{bert,cls}.*`` (the decoder starts from the same text weights, as BLIP's does from BERT;
cross-attention layers are left out — they start random in BLIP too). Load it as the YAML's
``model.pretrained`` (with ``model.load_pretrained=true``) of any ``tiny`` BLIP model (a non-strict load;
momentum encoders are copied from it):

    python projects/blip/reproduction/warm_start.py --out output/warm_start/tiny.safetensors
    vlkit train --cfg-path projects/blip/reproduction/pretrain.yaml \\
        --options model.pretrained=output/warm_start/tiny.safetensors model.load_pretrained=true

A JSON report (held-out accuracies before/after, seconds) is written next to the weights.
docs/training.md ("Training a tiny model from scratch") has what it changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

CELLS = 9
HELD_OUT_EXAMPLES = 500  # the last scenes/captions: accuracy is measured on them, never trained on


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="output/warm_start/tiny.safetensors", help="where to write the weights")
    p.add_argument("--scenes", type=int, default=4000, help="freshly drawn scenes (images; 5 captions each)")
    p.add_argument("--vision-steps", type=int, default=400)
    p.add_argument("--text-steps", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--image-size", type=int, default=64, help="the tiny models' input size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch threads on CPU")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)
    if args.scenes <= HELD_OUT_EXAMPLES:
        p.error(f"--scenes must be more than the {HELD_OUT_EXAMPLES} held-out scenes")
    return args


def sincos_position_grid(width: int, side: int) -> torch.Tensor:
    """``[side*side, width]`` fixed 2-D sine-cosine position codes (a quarter of the channels per sin/cos × x/y)."""
    if width % 4:
        raise ValueError(f"width {width} must be a multiple of 4 for 2-D sine-cosine positions")
    ys, xs = torch.meshgrid(torch.arange(side).float(), torch.arange(side).float(), indexing="ij")
    freqs = 1.0 / 10000 ** (torch.arange(width // 4).float() / (width // 4))
    parts = []
    for coord in (xs.reshape(-1, 1) * freqs, ys.reshape(-1, 1) * freqs):
        parts += [torch.sin(coord), torch.cos(coord)]
    return torch.cat(parts, dim=1)


def draw_scenes(n: int, seed: int, image_size: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """``n`` fresh scenes: processed images ``[n,3,S,S]``, labels ``[n, 9+9+9+1+11]``, 5 captions each."""
    from PIL import Image

    from vlkit.data.synthetic.captions import clean_captions
    from vlkit.data.synthetic.render import render_scene
    from vlkit.data.synthetic.scene import BACKGROUNDS, COLOURS, HELD_OUT, SHAPES, SIZES, random_scene, rng_for
    from vlkit.processors.image import BlipImageEvalConfig, BlipImageEvalProcessor

    proc = BlipImageEvalProcessor(BlipImageEvalConfig(image_size=image_size))
    colours, shapes = list(COLOURS), list(SHAPES)
    images, labels, captions = [], [], []
    for i in range(n):
        rng = rng_for(seed, "warm_start", i)  # a stream of its own: never a scene of the generated world
        scene = random_scene(rng, exclude=HELD_OUT)
        images.append(proc(Image.fromarray(render_scene(scene, 96, rng))))
        colour, shape, size, present = [0] * CELLS, [0] * CELLS, [0] * CELLS, [0] * (len(colours) + len(shapes))
        for obj in scene.objects:
            cell = obj.row * 3 + obj.col
            colour[cell] = 1 + colours.index(obj.colour)  # 0 = empty cell
            shape[cell] = 1 + shapes.index(obj.shape)
            size[cell] = 1 + SIZES.index(obj.size)
            present[colours.index(obj.colour)] = present[len(colours) + shapes.index(obj.shape)] = 1
        labels.append(colour + shape + size + [BACKGROUNDS.index(scene.background)] + present)
        captions += clean_captions(scene, rng, n=5)
    return torch.stack(images), torch.tensor(labels), captions


class SceneHeads(nn.Module):
    """Linear classifiers on the ViT's [CLS] feature (thrown away after the warm start)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        from vlkit.data.synthetic.scene import BACKGROUNDS, COLOURS, SHAPES, SIZES

        self.sizes = {"colour": len(COLOURS) + 1, "shape": len(SHAPES) + 1, "size": len(SIZES) + 1}
        self.cells = nn.ModuleDict({k: nn.Linear(width, CELLS * n) for k, n in self.sizes.items()})
        self.background = nn.Linear(width, len(BACKGROUNDS))
        self.present = nn.Linear(width, len(COLOURS) + len(SHAPES))

    def loss_and_accuracy(self, feats: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        loss, acc = 0.0, {}
        for j, (name, n) in enumerate(self.sizes.items()):
            logits = self.cells[name](feats).view(-1, CELLS, n)
            target = labels[:, j * CELLS : (j + 1) * CELLS]
            loss = loss + F.cross_entropy(logits.reshape(-1, n), target.reshape(-1))
            acc[f"cell_{name}"] = (logits.argmax(-1) == target).float().mean().item()
        bg = self.background(feats)
        loss = loss + F.cross_entropy(bg, labels[:, 3 * CELLS])
        acc["background"] = (bg.argmax(-1) == labels[:, 3 * CELLS]).float().mean().item()
        present = self.present(feats)
        target = labels[:, 3 * CELLS + 1 :].float()
        loss = loss + F.binary_cross_entropy_with_logits(present, target)
        acc["present"] = ((present > 0).float() == target).float().mean().item()
        return loss, acc


def lr_at(step: int, steps: int, lr: float, warmup: int = 20) -> float:
    """Linear warm-up, constant, then linear decay to 0 over the last 20 % of the steps."""
    decay_from = int(0.8 * steps)
    scale = min(1.0, (step + 1) / warmup)
    if step >= decay_from:
        scale *= (steps - step) / max(1, steps - decay_from)
    return lr * scale


def mask_tokens(
    ids: torch.Tensor, atts: torch.Tensor, tokenizer: object, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: 15 % of the real tokens; 80 % of those → [MASK], 10 % → a random token, 10 % kept."""
    special = torch.tensor([tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id])
    candidates = atts.bool() & ~torch.isin(ids, special.to(ids.device))
    chosen = candidates & (torch.rand(ids.shape, generator=generator) < 0.15).to(ids.device)
    labels = ids.masked_fill(~chosen, -100)
    roll = torch.rand(ids.shape, generator=generator).to(ids.device)
    ids = ids.clone()
    ids[chosen & (roll < 0.8)] = tokenizer.mask_token_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    ids[swap] = torch.randint(1000, tokenizer.vocab_size - 2, (int(swap.sum()),), generator=generator).to(ids.device)
    return ids, labels


def train_vision(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, args: argparse.Namespace) -> dict:
    vit = model.visual_encoder
    side = args.image_size // vit.cfg.patch_size
    with torch.no_grad():
        vit.pos_embed[0, 1:] = sincos_position_grid(vit.width, side).to(vit.pos_embed)
        vit.pos_embed[0, 0] = 0
    heads = SceneHeads(vit.width).to(images.device)
    opt = torch.optim.AdamW([*vit.parameters(), *heads.parameters()], lr=args.lr, weight_decay=0.05)
    train_n = len(images) - HELD_OUT_EXAMPLES

    @torch.no_grad()
    def held_out() -> dict[str, float]:
        vit.eval()
        _, acc = heads.loss_and_accuracy(vit(images[train_n:])[:, 0], labels[train_n:])
        vit.train()
        return {k: round(v, 3) for k, v in acc.items()}

    before, gen = held_out(), torch.Generator().manual_seed(args.seed)
    for step in range(args.vision_steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.vision_steps, args.lr)
        pick = torch.randint(0, train_n, (args.batch_size,), generator=gen).to(images.device)
        loss, _ = heads.loss_and_accuracy(vit(images[pick])[:, 0], labels[pick])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0 or step + 1 == args.vision_steps:
            print(
                f"vision step {step + 1}/{args.vision_steps} loss {loss.item():.3f} held-out {held_out()}", flush=True
            )
    return {"before": before, "after": held_out()}


def train_text(model: nn.Module, captions: list[str], args: argparse.Namespace) -> dict:
    encoder, head, tok = model.text_encoder, model.text_decoder.cls.predictions, model.tokenizer
    ids_all, atts_all = model.tokenize(captions)
    train_n = len(captions) - HELD_OUT_EXAMPLES
    params = [*encoder.parameters(), *head.transform.parameters(), head.decoder.bias]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.05)
    gen = torch.Generator().manual_seed(args.seed + 1)

    def mlm(ids: torch.Tensor, atts: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, float]:
        masked, labels = mask_tokens(ids, atts, tok, g)
        hidden = encoder(masked, atts, mode="text").last_hidden_state
        chosen = labels != -100
        x = head.transform.LayerNorm(F.gelu(head.transform.dense(hidden[chosen])))
        logits = F.linear(x, encoder.embeddings.word_embeddings.weight, head.decoder.bias)  # BERT's tied output
        loss = F.cross_entropy(logits, labels[chosen])
        return loss, (logits.argmax(-1) == labels[chosen]).float().mean().item()

    @torch.no_grad()
    def held_out() -> dict[str, float]:
        encoder.eval()
        loss, acc = mlm(ids_all[train_n:], atts_all[train_n:], torch.Generator().manual_seed(12345))
        cls = F.normalize(encoder(ids_all[train_n:], atts_all[train_n:], mode="text").last_hidden_state[:, 0], dim=-1)
        off_diagonal = ~torch.eye(len(cls), dtype=torch.bool, device=cls.device)
        encoder.train()
        return {
            "mlm_loss": round(loss.item(), 3),
            "mlm_acc": round(acc, 3),
            "cls_cosine": round((cls @ cls.T)[off_diagonal].mean().item(), 3),
        }

    before = held_out()
    for step in range(args.text_steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.text_steps, args.lr)
        pick = torch.randint(0, train_n, (args.batch_size,), generator=gen)
        loss, _ = mlm(ids_all[pick], atts_all[pick], gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0 or step + 1 == args.text_steps:
            print(f"text step {step + 1}/{args.text_steps} loss {loss.item():.3f} held-out {held_out()}", flush=True)
    return {"before": before, "after": held_out()}


def warm_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trained weights under the BLIP keys they initialise (the text weights also as the decoder's)."""
    out = {f"visual_encoder.{k}": v for k, v in model.visual_encoder.state_dict().items()}
    for k, v in model.text_encoder.state_dict().items():
        if ".crossattention." not in k:
            out[f"text_encoder.{k}"] = out[f"text_decoder.bert.{k}"] = v
    head = model.text_decoder.cls.predictions  # its decoder.weight is tied to the word embeddings
    out.update({f"text_decoder.cls.predictions.transform.{k}": v for k, v in head.transform.state_dict().items()})
    out["text_decoder.cls.predictions.decoder.bias"] = head.decoder.bias
    return {k: v.detach().cpu().contiguous().clone() for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from safetensors.torch import save_file

    from vlkit.models import load_model

    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(args.threads)
    start = time.time()
    model = load_model("blip_pretrain", "tiny", pretrained=False, image_size=args.image_size).to(dev)
    model.train()
    images, labels, captions = draw_scenes(args.scenes, args.seed, args.image_size)
    print(f"drew {len(images)} scenes and {len(captions)} captions in {time.time() - start:.0f} s", flush=True)
    report = {
        "args": vars(args),
        "vision": train_vision(model, images.to(dev), labels.to(dev), args),
        "text": train_text(model, captions, args),
    }
    report["seconds"] = round(time.time() - start, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(warm_state_dict(model), str(out), metadata={"vlkit_warm_start": "blip tiny"})
    out.with_suffix(".json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("vision", "text", "seconds")}), flush=True)
    print(f"wrote {out}: use it as model.pretrained (with model.load_pretrained=true) of a tiny BLIP model", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

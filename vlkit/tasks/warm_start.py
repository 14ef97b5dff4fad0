"""Unimodal warm start of the ``tiny`` BLIP encoders: the miniature of BLIP's ImageNet ViT + BERT start.

BLIP never trains its encoders from random weights: the ViT comes from ImageNet classification and the
text transformer from BERT's masked-language modelling. :func:`run_warm_start` gives a ``tiny`` model the
same kind of start on the synthetic shapes world, from scenes no split of any world contains (their own
seed stream; the NoCaps-style held-out objects excluded):

- **vision**: the ViT (position embeddings started from a fixed 2-D sine-cosine grid, as in MAE) learns,
  from its [CLS] token, which grid cells hold an object and each object's colour, shape and size, and
  the background kind: a supervised, ImageNet-like task;
- **text**: the text transformer learns BERT's masked-language modelling (15 % of tokens; 80 % [MASK],
  10 % random, 10 % kept) on captions of those scenes (five human-style, one web-style each), through
  BLIP's own LM head, and, as sentence encoders are, to place two human-style captions of the same scene
  close together (an in-batch contrastive loss on the [CLS] features, ``paraphrase_weight``). MLM alone, at
  this budget, leaves [CLS] blind to content words ("red circle" and "blue circle": cosine 1.00), and
  ITC then sits on its plateau for hundreds of updates (docs/reproduction.md).

The output is a ``.safetensors`` file of ``visual_encoder.*``, ``text_encoder.*`` and
``text_decoder.{bert,cls}.*`` (the decoder starts from the same text weights, as BLIP's does from BERT;
cross-attention starts random, as in BLIP). It is the ``model.pretrained`` (``model.load_pretrained: true``)
of any ``tiny`` BLIP model. The pipeline stage kind ``warm_start`` runs it (``warm_start:`` YAML section).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

CELLS = 9


@dataclass
class WarmStartConfig:
    """The ``warm_start:`` section of a warm-start YAML."""

    scenes: int = 4000  # freshly drawn scenes (5 captions each); the last ``held_out`` only measure
    held_out: int = 500
    vision_steps: int = 400
    text_steps: int = 400
    batch_size: int = 128
    lr: float = 2e-3
    paraphrase_weight: float = 1.0  # the text [CLS] contrastive term (0 = MLM only)
    specific_captions: bool = False  # human-style captions as the world's (``world.specific_captions``)
    image_size: int = 64  # the tiny models' input size
    max_objects: int = 4  # as the world the models will see
    seed: int = 0
    device: str = "auto"

    def check(self, source: str) -> None:
        from vlkit.common.config import ConfigError

        if self.scenes <= self.held_out or self.held_out < 1:
            raise ConfigError(f"{source}: warm_start.scenes must exceed warm_start.held_out (>= 1).")
        if min(self.vision_steps, self.text_steps) < 0 or self.batch_size < 1 or not self.lr > 0:
            raise ConfigError(f"{source}: warm_start needs steps >= 0, batch_size >= 1 and lr > 0.")


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


TEXTS_PER_SCENE = 6  # five human-style captions and one web-style alt-text


def draw_scenes(cfg: WarmStartConfig) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Processed images ``[n,3,S,S]``, labels ``[n, 9 occupancy + 9 colour + 9 shape + 9 size + 1 background]``
    (attributes -1 where a cell is empty) and :data:`TEXTS_PER_SCENE` captions per scene, scene by scene."""
    from PIL import Image

    from vlkit.data.synthetic.captions import clean_captions, web_caption
    from vlkit.data.synthetic.render import render_scene
    from vlkit.data.synthetic.scene import BACKGROUNDS, COLOURS, HELD_OUT, SHAPES, SIZES, random_scene, rng_for
    from vlkit.processors.image import BlipImageEvalConfig, BlipImageEvalProcessor

    proc = BlipImageEvalProcessor(BlipImageEvalConfig(image_size=cfg.image_size))
    colours, shapes = list(COLOURS), list(SHAPES)
    images, labels, captions = [], [], []
    for i in range(cfg.scenes):
        rng = rng_for(cfg.seed, "warm_start", i)  # a stream of its own: never a scene of a generated world
        scene = random_scene(rng, max_objects=cfg.max_objects, exclude=HELD_OUT)
        images.append(proc(Image.fromarray(render_scene(scene, 96, rng))))
        occupied, colour, shape, size = [0] * CELLS, [-1] * CELLS, [-1] * CELLS, [-1] * CELLS
        for obj in scene.objects:
            cell = obj.row * 3 + obj.col
            occupied[cell] = 1
            colour[cell], shape[cell], size[cell] = (
                colours.index(obj.colour),
                shapes.index(obj.shape),
                SIZES.index(obj.size),
            )
        labels.append(occupied + colour + shape + size + [BACKGROUNDS.index(scene.background)])
        captions += [*clean_captions(scene, rng, n=5, specific=cfg.specific_captions), web_caption(scene, rng).text]
    return torch.stack(images), torch.tensor(labels), captions


class SceneHeads(nn.Module):
    """Linear read-outs of the ViT's [CLS] feature (thrown away after the warm start).

    Attributes are scored only in occupied cells: with an "empty" class the mostly empty grid makes
    "every cell empty" a plateau the ViT takes hundreds of steps to leave. ``cell`` accuracy: the top cell
    holds an object.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        from vlkit.data.synthetic.scene import BACKGROUNDS, COLOURS, SHAPES, SIZES

        self.sizes = {"colour": len(COLOURS), "shape": len(SHAPES), "size": len(SIZES)}
        self.occupied = nn.Linear(width, CELLS)
        self.cells = nn.ModuleDict({k: nn.Linear(width, CELLS * n) for k, n in self.sizes.items()})
        self.background = nn.Linear(width, len(BACKGROUNDS))

    def loss_and_accuracy(self, feats: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        occ_target = labels[:, :CELLS]
        occ = self.occupied(feats)
        # a softmax over the cells against the occupied ones (for one object: "which cell"); per-cell
        # binary losses sit on the all-empty plateau far longer
        target = occ_target.float() / occ_target.sum(1, keepdim=True)
        loss = -(target * F.log_softmax(occ, dim=-1)).sum(-1).mean()
        acc = {"cell": occ_target.gather(1, occ.argmax(-1, keepdim=True)).float().mean().item()}
        mask = occ_target.bool()
        for j, (name, n) in enumerate(self.sizes.items(), start=1):
            logits = self.cells[name](feats).view(-1, CELLS, n)[mask]
            target = labels[:, j * CELLS : (j + 1) * CELLS][mask]
            loss = loss + F.cross_entropy(logits, target)
            acc[name] = (logits.argmax(-1) == target).float().mean().item()
        bg = self.background(feats)
        loss = loss + F.cross_entropy(bg, labels[:, 4 * CELLS])
        acc["background"] = (bg.argmax(-1) == labels[:, 4 * CELLS]).float().mean().item()
        return loss, acc


def lr_at(step: int, steps: int, lr: float, warmup: int = 20) -> float:
    """Linear warm-up, constant, then linear decay to 0 over the last 20 % of the steps."""
    decay_from = int(0.8 * steps)
    scale = min(1.0, (step + 1) / warmup)
    if step >= decay_from:
        scale *= (steps - step) / max(1, steps - decay_from)
    return lr * scale


def mask_tokens(
    ids: torch.Tensor, atts: torch.Tensor, tokenizer: Any, generator: torch.Generator
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


def _train(
    name: str, steps: int, cfg: WarmStartConfig, params: list[nn.Parameter], step_loss: Any, held_out: Any
) -> dict[str, Any]:
    """``steps`` AdamW updates of ``step_loss(step)``; held-out measures before and after."""
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.05)
    before = held_out()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, cfg.lr)
        loss = step_loss(step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            logger.info(
                "warm start %s step %d/%d loss %.3f held-out %s", name, step + 1, steps, loss.item(), held_out()
            )
    return {"before": before, "after": held_out()}


def train_vision(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, cfg: WarmStartConfig) -> dict:
    vit = model.visual_encoder
    with torch.no_grad():
        vit.pos_embed[0, 1:] = sincos_position_grid(vit.width, cfg.image_size // vit.cfg.patch_size).to(vit.pos_embed)
        vit.pos_embed[0, 0] = 0
    heads = SceneHeads(vit.width).to(images.device)
    train_n, gen = len(images) - cfg.held_out, torch.Generator().manual_seed(cfg.seed)

    @torch.no_grad()
    def held_out() -> dict[str, float]:
        vit.eval()
        _, acc = heads.loss_and_accuracy(vit(images[train_n:])[:, 0], labels[train_n:])
        vit.train()
        return {k: round(v, 3) for k, v in acc.items()}

    def step_loss(_: int) -> torch.Tensor:
        pick = torch.randint(0, train_n, (cfg.batch_size,), generator=gen).to(images.device)
        return heads.loss_and_accuracy(vit(images[pick])[:, 0], labels[pick])[0]

    return _train("vision", cfg.vision_steps, cfg, [*vit.parameters(), *heads.parameters()], step_loss, held_out)


def train_text(model: nn.Module, captions: list[str], cfg: WarmStartConfig) -> dict:
    encoder, head, tok = model.text_encoder, model.text_decoder.cls.predictions, model.tokenizer
    ids_all, atts_all = model.tokenize(captions)
    k = TEXTS_PER_SCENE
    scenes = len(captions) // k
    train_n = scenes - cfg.held_out
    gen = torch.Generator().manual_seed(cfg.seed + 1)

    def losses(scene_ids: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
        """MLM over two human-style captions and the web-style one of each scene, and the contrastive loss
        between the two human-style ones' [CLS] features. Pairing the terse web text too ("red circle" with
        "a red circle on the left") teaches [CLS] to drop what the web text leaves out, such as where the
        object is: retrieval fell from R mean 32 to 9 when a fifth of the pairs had it (docs/reproduction.md)."""
        n_human = k - 1
        first = torch.randint(0, n_human, (len(scene_ids),), generator=g)
        second = (first + torch.randint(1, n_human, (len(scene_ids),), generator=g)) % n_human  # another one
        rows = torch.cat([scene_ids * k + first, scene_ids * k + second, scene_ids * k + n_human])
        ids, atts = ids_all[rows], atts_all[rows]
        masked, labels = mask_tokens(ids, atts, tok, g)
        hidden = encoder(masked, atts, mode="text").last_hidden_state
        chosen = labels != -100
        x = head.transform.LayerNorm(F.gelu(head.transform.dense(hidden[chosen])))
        logits = F.linear(x, encoder.embeddings.word_embeddings.weight, head.decoder.bias)  # BERT's tied output
        mlm = F.cross_entropy(logits, labels[chosen])
        cls = F.normalize(hidden[:, 0], dim=-1)
        a, b = cls[: len(scene_ids)], cls[len(scene_ids) : 2 * len(scene_ids)]
        sim = a @ b.T / 0.1
        target = torch.arange(len(a), device=sim.device)
        para = (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target)) / 2
        return mlm, para, (logits.argmax(-1) == labels[chosen]).float().mean().item()

    @torch.no_grad()
    def held_out() -> dict[str, float]:
        encoder.eval()
        mlm, para, acc = losses(torch.arange(train_n, scenes), torch.Generator().manual_seed(12345))
        rows = torch.arange(train_n * k, scenes * k, k)  # one caption of each held-out scene
        cls = F.normalize(encoder(ids_all[rows], atts_all[rows], mode="text").last_hidden_state[:, 0], dim=-1)
        off_diagonal = ~torch.eye(len(cls), dtype=torch.bool, device=cls.device)
        encoder.train()
        return {
            "mlm_loss": round(mlm.item(), 3),
            "mlm_acc": round(acc, 3),
            "paraphrase_loss": round(para.item(), 3),
            "cls_cosine": round((cls @ cls.T)[off_diagonal].mean().item(), 3),
        }

    def step_loss(_: int) -> torch.Tensor:
        mlm, para, _ = losses(torch.randint(0, train_n, (cfg.batch_size,), generator=gen), gen)
        return mlm + cfg.paraphrase_weight * para

    params = [*encoder.parameters(), *head.transform.parameters(), head.decoder.bias]
    return _train("text", cfg.text_steps, cfg, params, step_loss, held_out)


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


def run_warm_start(cfg: WarmStartConfig, out: str | Path) -> dict[str, Any]:
    """Train the warm start and write ``out`` (safetensors) and ``out`` with ``.json`` (the report)."""
    from safetensors.torch import save_file

    from vlkit.models import load_model

    torch.manual_seed(cfg.seed)
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device)
    start = time.time()
    model = load_model("blip_pretrain", "tiny", pretrained=False, image_size=cfg.image_size).to(dev)
    model.train()
    images, labels, captions = draw_scenes(cfg)
    logger.info("warm start: drew %d scenes and %d captions in %.0f s", len(images), len(captions), time.time() - start)
    report = {
        "config": asdict(cfg),
        "vision": train_vision(model, images.to(dev), labels.to(dev), cfg),
        "text": train_text(model, captions, cfg),
    }
    report["seconds"] = round(time.time() - start, 1)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(warm_state_dict(model), str(path), metadata={"vlkit_warm_start": "blip tiny"})
    path.with_suffix(".json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return {**report, "checkpoint": str(path)}


__all__ = ["WarmStartConfig", "run_warm_start", "sincos_position_grid", "warm_state_dict"]

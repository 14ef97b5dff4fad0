"""Image-text contrastive (ITC) and matching (ITM) learning, shared by pre-training and retrieval.

ITC uses momentum encoders (EMA) whose features fill queues and give soft targets (momentum
distillation); ITM trains a binary head on positives and hard negatives sampled from the ITC
similarities. Mixed into :class:`~vlkit.models.blip.base.BlipBase` subclasses.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.common.dist import all_gather_with_grad, concat_all_gather, get_rank


def hard_negative_weights(sim: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    """Sampling weights for hard negatives: softmax(sim) + 1e-4 with positives (and same-image pairs) zeroed.

    A row with no valid negative (e.g. every text in the batch describes the same image) falls back to
    uniform weights over the other entries, so sampling never fails and never picks the positive itself
    when anything else exists.
    """
    weights = F.softmax(sim.float(), dim=1) + 1e-4
    weights = weights.masked_fill(same, 0.0)
    empty = weights.sum(dim=1) == 0
    if bool(empty.any()):
        fallback = torch.ones_like(weights[empty])
        cols = torch.arange(weights.shape[1], device=weights.device)
        rows = torch.nonzero(empty).squeeze(1)
        fallback[cols[None, :] == rows[:, None]] = 0.0 if weights.shape[1] > 1 else 1.0
        weights[empty] = fallback
    return weights


def _whole(t: torch.Tensor) -> torch.Tensor:
    """A parameter as a plain tensor: FSDP-sharded ones (DTensor) are gathered (momentum encoders stay whole)."""
    full = getattr(t, "full_tensor", None)
    return full() if full is not None else t


def soft_contrastive_loss(sim: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft targets, averaged over rows."""
    return -(F.log_softmax(sim, dim=1) * targets).sum(dim=1).mean()


class ContrastiveHeads(nn.Module):
    """Marker base: see :meth:`init_contrastive` (called by models that learn ITC/ITM)."""

    def init_contrastive(self, use_idx_queue: bool, ptr_name: str) -> None:
        """Create the text encoder, projections, ITM head, temperature, momentum copies and queues.

        Args:
            use_idx_queue: keep image ids in the queue so positives sharing an image are not negatives.
            ptr_name: the queue pointer buffer's name (``queue_ptr`` in pre-training, ``ptr_queue`` in retrieval).
        """
        c = self.config
        self.text_encoder = self.build_text_encoder()
        text_width = self.text_encoder.config.hidden_size
        self.vision_proj = nn.Linear(self.vision_width, c.embed_dim)
        self.text_proj = nn.Linear(text_width, c.embed_dim)
        self.itm_head = nn.Linear(text_width, 2)
        self.temp = nn.Parameter(torch.tensor(c.temp))
        self.visual_encoder_m = copy.deepcopy(self.visual_encoder)
        self.vision_proj_m = copy.deepcopy(self.vision_proj)
        self.text_encoder_m = copy.deepcopy(self.text_encoder)
        self.text_proj_m = copy.deepcopy(self.text_proj)
        for name in ("visual_encoder_m", "vision_proj_m", "text_encoder_m", "text_proj_m"):
            getattr(self, name).requires_grad_(False)
        self.register_buffer("image_queue", F.normalize(torch.randn(c.embed_dim, c.queue_size), dim=0))
        self.register_buffer("text_queue", F.normalize(torch.randn(c.embed_dim, c.queue_size), dim=0))
        if use_idx_queue:
            self.register_buffer("idx_queue", torch.full((1, c.queue_size), -100, dtype=torch.long))
        self.register_buffer(ptr_name, torch.zeros(1, dtype=torch.long))
        self._ptr_name = ptr_name

    def optional_checkpoint_keys(self) -> tuple[str, ...]:
        # transformers' BLIP and fine-tuned checkpoints may omit momentum encoders and queues
        return (
            "visual_encoder_m.",
            "vision_proj_m.",
            "text_encoder_m.",
            "text_proj_m.",
            "image_queue",
            "text_queue",
            "idx_queue",
            "ptr_queue",
            "queue_ptr",
        )

    def after_load(self, missing_keys: list[str]) -> None:
        if any(k.startswith(("visual_encoder_m.", "text_encoder_m.")) for k in missing_keys):
            self.copy_to_momentum()

    def momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [
            (self.visual_encoder, self.visual_encoder_m),
            (self.vision_proj, self.vision_proj_m),
            (self.text_encoder, self.text_encoder_m),
            (self.text_proj, self.text_proj_m),
        ]

    @torch.no_grad()
    def momentum_update(self) -> None:
        """EMA: ``p_m ← m·p_m + (1−m)·p`` for every momentum parameter."""
        m = self.config.momentum
        for model, model_m in self.momentum_pairs():
            for p, p_m in zip(model.parameters(), model_m.parameters(), strict=True):
                p_m.mul_(m).add_(_whole(p.detach()), alpha=1.0 - m)

    @torch.no_grad()
    def copy_to_momentum(self) -> None:
        """Start the momentum encoders equal to the online ones (after loading weights)."""
        for model, model_m in self.momentum_pairs():
            for p, p_m in zip(model.parameters(), model_m.parameters(), strict=True):
                p_m.copy_(p.detach())

    @torch.no_grad()
    def dequeue_and_enqueue(self, image_feat: torch.Tensor, text_feat: torch.Tensor, idx: torch.Tensor | None) -> None:
        """Write the (all-gathered) momentum features into the queues, wrapping around at the end."""
        image_feats, text_feats = concat_all_gather(image_feat), concat_all_gather(text_feat)
        ptr_buf = getattr(self, self._ptr_name)
        n, size = image_feats.shape[0], self.image_queue.shape[1]
        cols = (int(ptr_buf.item()) + torch.arange(n, device=ptr_buf.device)) % size
        self.image_queue[:, cols] = image_feats.T.to(self.image_queue.dtype)
        self.text_queue[:, cols] = text_feats.T.to(self.text_queue.dtype)
        if idx is not None and hasattr(self, "idx_queue"):
            self.idx_queue[:, cols] = concat_all_gather(idx).view(1, -1)
        ptr_buf[0] = (int(ptr_buf.item()) + n) % size

    def itc_and_itm(
        self,
        image: torch.Tensor,
        image_embeds: torch.Tensor,
        text_ids: torch.Tensor,
        text_atts: torch.Tensor,
        idx: torch.Tensor | None,
        alpha: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """ITC loss (momentum distillation + queues) and ITM loss (hard negatives) for one batch.

        Args:
            image: the input images (the momentum ViT encodes them again).
            idx: image ids ``[B]`` (positives share an id); None = every pair is its own positive.
            alpha: weight of the momentum model's soft targets; None = ``config.alpha``. The training task
                ramps it up early in training (:class:`~vlkit.tasks.common.AlphaRampMixin`).
        """
        with torch.no_grad():
            self.temp.clamp_(0.001, 0.5)
        alpha = self.config.alpha if alpha is None else float(alpha)
        image_feat = F.normalize(self.vision_proj(image_embeds[:, 0]), dim=-1)
        text_out = self.text_encoder(text_ids, text_atts, mode="text").last_hidden_state
        text_feat = F.normalize(self.text_proj(text_out[:, 0]), dim=-1)
        bs = image_feat.shape[0]
        if idx is not None and hasattr(self, "idx_queue"):
            idx = idx.view(-1, 1).to(self.device)
            pos = torch.eq(idx, torch.cat([idx.T, self.idx_queue.clone()], dim=1)).float()
            sim_targets = pos / pos.sum(dim=1, keepdim=True)
        else:
            sim_targets = torch.zeros(bs, bs + self.image_queue.shape[1], device=self.device)
            sim_targets[:, :bs].fill_diagonal_(1.0)
        with torch.no_grad():
            self.momentum_update()
            image_feat_m = F.normalize(
                self.vision_proj_m(self.encode_image(image, self.visual_encoder_m)[:, 0]), dim=-1
            )
            text_out_m = self.text_encoder_m(text_ids, text_atts, mode="text").last_hidden_state
            text_feat_m = F.normalize(self.text_proj_m(text_out_m[:, 0]), dim=-1)
            image_feat_all = torch.cat([image_feat_m.T, self.image_queue.clone()], dim=1)
            text_feat_all = torch.cat([text_feat_m.T, self.text_queue.clone()], dim=1)
            sim_i2t_targets = (
                alpha * F.softmax(image_feat_m @ text_feat_all / self.temp, dim=1) + (1 - alpha) * sim_targets
            )
            sim_t2i_targets = (
                alpha * F.softmax(text_feat_m @ image_feat_all / self.temp, dim=1) + (1 - alpha) * sim_targets
            )
        sim_i2t = image_feat @ text_feat_all / self.temp
        sim_t2i = text_feat @ image_feat_all / self.temp
        loss_itc = (
            soft_contrastive_loss(sim_i2t, sim_i2t_targets) + soft_contrastive_loss(sim_t2i, sim_t2i_targets)
        ) / 2
        self.dequeue_and_enqueue(image_feat_m, text_feat_m, idx.view(-1) if idx is not None else None)
        loss_itm = self.itm_loss(image_embeds, image_feat, text_ids, text_atts, text_feat, idx)
        return loss_itc, loss_itm

    def itm_loss(
        self,
        image_embeds: torch.Tensor,
        image_feat: torch.Tensor,
        text_ids: torch.Tensor,
        text_atts: torch.Tensor,
        text_feat: torch.Tensor,
        idx: torch.Tensor | None,
    ) -> torch.Tensor:
        """Binary matching loss on B positives, B hard-negative texts and B hard-negative images."""
        bs = image_embeds.shape[0]
        enc_ids = text_ids.clone()
        enc_ids[:, 0] = self.enc_token_id
        all_ranks = getattr(self.config, "negative_all_rank", False)
        with torch.no_grad():
            if idx is not None:
                idx_local = idx.view(-1, 1)
            else:  # without image ids a pair's only positive is itself: use its global batch position
                offset = get_rank() * bs if all_ranks else 0
                idx_local = (torch.arange(bs, device=self.device) + offset).view(-1, 1)
            idx_all = concat_all_gather(idx_local) if all_ranks else idx_local
            text_feat_all = concat_all_gather(text_feat) if all_ranks else text_feat
            image_feat_all = concat_all_gather(image_feat) if all_ranks else image_feat
            same = torch.eq(idx_local, idx_all.T)
            if self.config.itm_negatives == "random":  # equal weights: uniform over the other pairs
                sim_i2t = sim_t2i = torch.zeros(same.shape, device=same.device)
            else:
                sim_i2t = image_feat @ text_feat_all.T / self.temp
                sim_t2i = text_feat @ image_feat_all.T / self.temp
            w_i2t = hard_negative_weights(sim_i2t, same)
            w_t2i = hard_negative_weights(sim_t2i, same)
            neg_text = torch.multinomial(w_i2t, 1).squeeze(1)
            neg_image = torch.multinomial(w_t2i, 1).squeeze(1)
        image_embeds_all = all_gather_with_grad(image_embeds) if all_ranks else image_embeds
        ids_all = concat_all_gather(enc_ids) if all_ranks else enc_ids
        atts_all = concat_all_gather(text_atts) if all_ranks else text_atts
        # index_select, not x[idx]: its backward adds repeated rows in order (x[idx] adds them atomically on CPU)
        image_embeds_neg = image_embeds_all.index_select(0, neg_image)
        text_ids_neg, text_atts_neg = ids_all[neg_text], atts_all[neg_text]
        ids = torch.cat([enc_ids, enc_ids, text_ids_neg], dim=0)
        atts = torch.cat([text_atts, text_atts, text_atts_neg], dim=0)
        images = torch.cat([image_embeds, image_embeds_neg, image_embeds], dim=0)
        out = self.text_encoder(ids, atts, encoder_hidden_states=images, mode="multimodal").last_hidden_state
        logits = self.itm_head(out[:, 0])
        labels = torch.cat([torch.ones(bs), torch.zeros(2 * bs)]).long().to(self.device)
        self._last_hard_negatives = (neg_text, neg_image)  # inspected by tests
        return F.cross_entropy(logits, labels)

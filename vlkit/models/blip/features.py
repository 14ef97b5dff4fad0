"""Unimodal and multimodal features used for retrieval, matching and feature extraction."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vlkit.models.outputs import BlipFeatures


class FeatureMixin:
    """Needs ``visual_encoder``, ``text_encoder``, ``vision_proj``, ``text_proj`` (and ``itm_head`` for ITM)."""

    @torch.no_grad()
    def image_features(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Patch features (frames concatenated for video) and the normalised ITC projection.

        For a video ``[B, T, 3, H, W]`` the projection is the mean of the per-frame projections.
        """
        image = image.to(self.device)
        if image.dim() == 5:
            b, t = image.shape[:2]
            frames = self.visual_encoder(image.flatten(0, 1))
            proj = F.normalize(self.vision_proj(frames[:, 0]), dim=-1).view(b, t, -1).mean(dim=1)
            return frames.view(b, t * frames.shape[1], -1), F.normalize(proj, dim=-1)
        embeds = self.visual_encoder(image)
        return embeds, F.normalize(self.vision_proj(embeds[:, 0]), dim=-1)

    @torch.no_grad()
    def text_features(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Unimodal text features: ``(embeds, ids, atts, normalised projection)``."""
        ids, atts = self.tokenize(texts)
        embeds = self.text_encoder(ids, atts, mode="text").last_hidden_state
        return embeds, ids, atts, F.normalize(self.text_proj(embeds[:, 0]), dim=-1)

    def multimodal_embeds(
        self,
        image_embeds: torch.Tensor,
        text_ids: torch.Tensor,
        text_atts: torch.Tensor,
        image_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Image-grounded text encoder output (first token replaced by the ITM token).

        Text row ``r`` reads image ``r``, or image ``image_index[r]`` (each image's cross-attention keys and values
        are then computed once), or, with ``k`` times more texts than images, image ``r // k``.
        """
        ids = text_ids.clone()
        ids[:, 0] = self.enc_token_id
        return self.text_encoder(
            ids, text_atts, encoder_hidden_states=image_embeds, mode="multimodal", encoder_index=image_index
        ).last_hidden_state

    @torch.no_grad()
    def itm_scores(
        self,
        image_embeds: torch.Tensor,
        text_ids: torch.Tensor,
        text_atts: torch.Tensor,
        image_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """ITM match logit (class 1) for each (image, text) row pair; images as in :meth:`multimodal_embeds`."""
        return self.itm_head(self.multimodal_embeds(image_embeds, text_ids, text_atts, image_index)[:, 0])[:, 1]

    @torch.no_grad()
    def match(self, samples: dict, match_head: str = "itm") -> torch.Tensor:
        """Score images against texts, as LAVIS and the original code do.

        ``match_head="itm"``: ITM logits ``[B, 2]`` of the pairs (image ``i`` with text ``i``; as many texts as
        images). ``"itc"``: the cosine similarity matrix ``[B_img, B_txt]`` of every image with every text
        (its diagonal holds the pairs' similarities when the counts are equal).
        """
        image_embeds, image_proj = self.image_features(self.image_input(samples))
        if match_head == "itm":
            ids, atts = self.tokenize(samples["text_input"])
            return self.itm_head(self.multimodal_embeds(image_embeds, ids, atts)[:, 0])
        if match_head == "itc":
            _, _, _, text_proj = self.text_features(samples["text_input"])
            return image_proj @ text_proj.t()
        raise ValueError(f"match_head must be 'itm' or 'itc', got {match_head!r}")

    @torch.no_grad()
    def extract_features(self, samples: dict, mode: str = "multimodal") -> BlipFeatures:
        """LAVIS-compatible features: ``mode`` is ``image``, ``text`` or ``multimodal``."""
        if mode not in ("image", "text", "multimodal"):
            raise ValueError(f"mode must be 'image', 'text' or 'multimodal', got {mode!r}")
        out = BlipFeatures()
        if mode in ("image", "multimodal"):
            image = self.image_input(samples).to(self.device)
            out.image_embeds = self.encode_image(image)
            out.image_embeds_proj = F.normalize(self.vision_proj(out.image_embeds), dim=-1)
        if mode in ("text", "multimodal"):
            ids, atts = self.tokenize(samples["text_input"])
            if mode == "text":
                out.text_embeds = self.text_encoder(ids, atts, mode="text").last_hidden_state
                out.text_embeds_proj = F.normalize(self.text_proj(out.text_embeds), dim=-1)
            else:
                out.multimodal_embeds = self.multimodal_embeds(out.image_embeds, ids, atts)
        return out

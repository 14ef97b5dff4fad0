"""Pieces every BLIP model is built from: the image encoder, the tokenizer and the text towers."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from vlkit.models.base_model import BaseModel
from vlkit.models.blip.config import BlipConfig, check_blip_config
from vlkit.models.checkpoint import LoadReport
from vlkit.models.med import MedConfig, MedForCausalLM, MedTextModel, med_config
from vlkit.models.tokenizer import blip_tokenizer
from vlkit.models.vit import VisionTransformer, vision_config


class TextInputMixin:
    """Tokenisation for models with ``tokenizer``, ``config.max_txt_len`` and ``device`` (every BLIP model)."""

    tokenizer: Any
    config: Any
    device: torch.device

    def tokenize(
        self, texts: list[str], first_token: int | None = None, max_len: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask on the model's device; ``first_token`` replaces ``[CLS]``."""
        if isinstance(texts, str):
            texts = [texts]
        enc = self.tokenizer(
            list(texts),
            padding="longest",
            truncation=True,
            max_length=max_len or self.config.max_txt_len,
            return_tensors="pt",
        )
        ids, att = enc.input_ids.to(self.device), enc.attention_mask.to(self.device)
        if first_token is not None:
            ids[:, 0] = first_token
        return ids, att


class BlipBase(TextInputMixin, BaseModel):
    """Builds ``visual_encoder`` and gives subclasses tokenisation and text-tower constructors."""

    CONFIG_CLASS: ClassVar[type] = BlipConfig

    def __init__(self, config: BlipConfig) -> None:
        super().__init__()
        check_blip_config(config)
        self.config = config
        self.tokenizer = blip_tokenizer()
        self.visual_encoder = self._build_vit()
        self.vision_width = self.visual_encoder.width

    def _build_vit(self) -> VisionTransformer:
        c = self.config
        return VisionTransformer(
            vision_config(
                c.vit,
                c.image_size,
                drop_path_rate=c.vit_drop_path_rate,
                grad_ckpt=c.vit_grad_ckpt,
                ckpt_layer=c.vit_ckpt_layer,
            )
        )

    def med_config(self, **overrides: object) -> MedConfig:
        return med_config(self.config.med, encoder_width=self.vision_width, **overrides)

    def build_text_encoder(self, **overrides: object) -> MedTextModel:
        return MedTextModel(self.med_config(**overrides))

    def build_text_decoder(self) -> MedForCausalLM:
        return MedForCausalLM(self.med_config())

    def decoder_lm_loss(
        self, ids: torch.Tensor, atts: torch.Tensor, image_embeds: torch.Tensor, prompt_length: int = 0
    ) -> torch.Tensor:
        """``text_decoder``'s LM loss on ``ids`` ([CLS] replaced by [DEC]) given the image, with label smoothing.

        Padding and the first ``prompt_length`` tokens (a given prompt) are not scored; only scored positions
        are projected onto the vocabulary (``loss_only``).
        """
        ids = ids.clone()
        ids[:, 0] = self.tokenizer.dec_token_id
        labels = ids.masked_fill(ids == self.tokenizer.pad_token_id, -100)
        labels[:, :prompt_length] = -100
        return self.text_decoder(
            ids,
            atts,
            encoder_hidden_states=image_embeds,
            labels=labels,
            label_smoothing=self.config.label_smoothing,
            loss_only=True,
        ).loss

    def init_from_sources(self, sources: Any) -> LoadReport:
        """``model.init_from``: the ViT from timm, the text towers from BERT, the rest new (see :mod:`init_from`)."""
        from vlkit.models.init_from import init_from_sources

        return init_from_sources(self, sources)

    def no_weight_decay(self) -> set[str]:
        return {f"visual_encoder.{n}" for n in self.visual_encoder.no_weight_decay()}

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.visual_encoder.set_grad_checkpointing(enable, self.config.vit_ckpt_layer)

    # -- inputs ------------------------------------------------------------------------------------------------
    @property
    def enc_token_id(self) -> int:
        return self.tokenizer.enc_token_id if self.config.itm_first_token == "enc" else self.tokenizer.cls_token_id

    def encode_image(self, image: torch.Tensor, encoder: nn.Module | None = None) -> torch.Tensor:
        """Patch features ``[B, N, D]``; a video ``[B, T, 3, H, W]`` gives its frames' features concatenated."""
        encoder = encoder or self.visual_encoder
        if image.dim() == 5:
            b, t = image.shape[:2]
            feats = encoder(image.flatten(0, 1))
            return feats.view(b, t * feats.shape[1], feats.shape[2])
        return encoder(image)

    @staticmethod
    def image_input(samples: dict) -> torch.Tensor:
        image = samples.get("image", samples.get("video"))
        if image is None:
            raise KeyError("samples need an 'image' ([B,3,H,W]) or 'video' ([B,T,3,H,W]) tensor")
        return image

"""Adapters from vlkit models to the two functions CapFilt needs: write captions, score matches."""

from __future__ import annotations

import logging
from dataclasses import replace

import torch
import torch.nn.functional as F

from vlkit.capfilt.config import CapFiltConfig, ModelRef
from vlkit.capfilt.functions import CaptionFn, MatchFn, TransformFn
from vlkit.common.cpu_allocator import configure_cpu_allocator
from vlkit.common.dist import resolve_device

logger = logging.getLogger(__name__)


def build_models(cfg: CapFiltConfig) -> tuple[CaptionFn, MatchFn, TransformFn]:
    """Load the captioner and the filter named by ``cfg`` and wrap them as CapFilt functions."""
    from vlkit.models import load_model
    from vlkit.processors import load_processor

    device = resolve_device(cfg.device, "capfilt.device")
    configure_cpu_allocator(cfg.cpu_allocator, "capfilt.cpu_allocator", device)

    def load(ref: ModelRef) -> torch.nn.Module:
        return load_model(
            ref.arch, ref.model_type, is_eval=True, device=device, checkpoint=ref.checkpoint, **dict(ref.overrides)
        )

    # num_captions = 0 filters the web texts only (the paper's "+F" row): no captioner is needed
    captioner = load(cfg.captioner) if cfg.num_captions > 0 else None
    matcher = load(cfg.filter)
    filter_size = int(cfg.image_size or matcher.config.image_size)
    caption_size = int(captioner.config.image_size) if captioner is not None else filter_size
    transform = load_processor("blip_image_eval", {"image_size": filter_size})

    def caption_fn(images: torch.Tensor, num_captions: int) -> list[list[str]]:
        assert captioner is not None, "caption_fn called with capfilt.num_captions = 0"
        images = images.to(device)
        if caption_size != filter_size:
            images = F.interpolate(images, size=(caption_size, caption_size), mode="bicubic", align_corners=False)
        generation = replace(cfg.decoding, num_return_sequences=num_captions)
        flat = captioner.generate({"image": images}, generation_config=generation)
        return [flat[i * num_captions : (i + 1) * num_captions] for i in range(images.shape[0])]

    def match_fn(images: torch.Tensor, texts: list[str]) -> torch.Tensor:
        logits = matcher.match({"image": images.to(device), "text_input": texts}, match_head="itm")
        return logits.float().softmax(dim=-1)[:, 1]

    return caption_fn, match_fn, transform

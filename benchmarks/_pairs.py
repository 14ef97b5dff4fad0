"""vlkit and transformers' BLIP with the same random weights, for benchmarks that compare the two.

transformers' model takes its config from vlkit's exporter (:func:`vlkit.models.export.transformers_config`)
and its weights from a seed; vlkit's loads them through :func:`vlkit.models.convert_hf.hf_blip_to_vlkit`.
Random weights keep every benchmark offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from _common import Timing, time_pair

# size -> vlkit model types
MODEL_TYPES = {
    "base": {"caption": "base_coco", "itm": "base", "pretrain": "base"},
    "tiny": {"caption": "tiny", "itm": "tiny", "pretrain": "tiny"},
}


def hf_model_like(model: torch.nn.Module, arch: str, seed: int) -> torch.nn.Module:
    """transformers' BLIP class for ``arch`` with ``model``'s shapes (vlkit's exporter's config), weights drawn from
    ``seed``. As BLIP trains: dropout 0.1 and the captioner's LM label smoothing 0.1 (transformers' defaults: 0)."""
    import transformers

    from vlkit.models.export import transformers_config

    cfg = transformers.BlipConfig(**transformers_config(model, arch))
    torch.manual_seed(seed)
    return getattr(transformers, cfg.architectures[0])(cfg)


def build_caption_pair(
    size: str, image_size: int, seed: int = 0, keep_hf: bool = True, is_eval: bool = True
) -> tuple[torch.nn.Module | None, torch.nn.Module]:
    """``(transformers BlipForConditionalGeneration or None, vlkit blip_caption)`` with the same weights.

    ``keep_hf=False`` frees transformers' model once its weights are copied (a process measuring vlkit alone).
    """
    from vlkit.models import load_model
    from vlkit.models.convert_hf import hf_blip_to_vlkit

    cap = load_model("blip_caption", MODEL_TYPES[size]["caption"], pretrained=False, image_size=image_size)
    hf = hf_model_like(cap, "caption", seed)
    cap.load_checkpoint(hf_blip_to_vlkit(hf.state_dict(), "caption"), strict=False)  # no encoder in a captioner
    if not keep_hf:
        del hf
        hf = None
    for model in (hf, cap):
        if model is not None:
            model.train(not is_eval)
    return hf, cap


def build_itm_pair(size: str, image_size: int, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """``(transformers BlipForImageTextRetrieval, vlkit blip_image_text_matching)``, same weights, eval mode.

    vlkit's model starts the image-grounded text with ``[CLS]`` as transformers' does (``itm_first_token="cls"``).
    """
    from vlkit.models import load_model
    from vlkit.models.convert_hf import hf_blip_to_vlkit

    itm = load_model(
        "blip_image_text_matching",
        MODEL_TYPES[size]["itm"],
        pretrained=False,
        image_size=image_size,
        is_eval=True,
        itm_first_token="cls",
    )
    hf = hf_model_like(itm, "retrieval", seed).eval()
    itm.load_checkpoint(hf_blip_to_vlkit(hf.state_dict(), "retrieval"), strict=True)
    return hf, itm


@dataclass(frozen=True)
class HfCaptionInputs:
    """Builds transformers' captioning inputs for the batch a vlkit captioner trains on: the same prompt + caption
    tokens, ``[DEC]`` first, padding and prompt positions out of the loss (``-100``). Holds no model."""

    tokenizer: Any
    prompt: str
    prompt_length: int
    max_len: int

    @classmethod
    def like(cls, cap: torch.nn.Module) -> HfCaptionInputs:
        return cls(cap.tokenizer, cap.prompt, cap.prompt_length, cap.config.max_txt_len)

    def __call__(self, texts: list[str]) -> dict[str, torch.Tensor]:
        enc = self.tokenizer(
            [self.prompt + t for t in texts],
            padding="longest",
            truncation=True,
            max_length=self.max_len,
            return_tensors="pt",
        )
        ids = enc.input_ids
        ids[:, 0] = self.tokenizer.dec_token_id
        labels = ids.masked_fill(ids == self.tokenizer.pad_token_id, -100)
        labels[:, : self.prompt_length] = -100
        return {"input_ids": ids, "attention_mask": enc.attention_mask, "labels": labels}


def enable_hf_checkpointing(model: torch.nn.Module) -> None:
    """transformers' activation checkpointing (renamed from ``gradient_checkpointing_enable`` in 5.x)."""
    enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
    enable()


# [DEC] a picture of [SEP]: transformers' BLIP generate drops the prompt's last token, as BLIP's code does
HF_PROMPT_IDS = [30522, 1037, 3861, 1997, 102]


def time_caption_generation(
    hf_cap: torch.nn.Module,
    cap: torch.nn.Module,
    images: torch.Tensor,
    repeats: int,
    max_length: int = 20,
    min_length: int = 5,
) -> tuple[Timing, Timing, int]:
    """Beam-3 captions of ``images`` by both models (interleaved repeats): ``(transformers, vlkit, captions equal)``."""
    prompt = torch.tensor([HF_PROMPT_IDS] * len(images), device=images.device)
    kw = dict(num_beams=3, max_length=max_length, min_length=min_length)
    (t_hf, out_hf), (t_vl, out_vl) = time_pair(
        lambda: hf_cap.generate(pixel_values=images, input_ids=prompt, **kw),
        lambda: cap.generate({"image": images}, **kw),
        repeats,
        device=images.device,
    )
    decoded = cap.tokenizer.batch_decode(out_hf, skip_special_tokens=True)
    same = sum(a.removeprefix("a picture of").strip() == b for a, b in zip(decoded, out_vl))
    return t_hf, t_vl, same


def time_itm(
    hf_ret: torch.nn.Module, itm: torch.nn.Module, images: torch.Tensor, repeats: int
) -> tuple[Timing, Timing, float]:
    """ITM logits of each image with a caption by both models: ``(transformers, vlkit, max abs logit diff)``."""
    texts = ["a picture of a dog on a sofa"] * len(images)
    enc = itm.tokenizer(texts, return_tensors="pt", padding=True).to(images.device)
    (t_hf, s_hf), (t_vl, s_vl) = time_pair(
        lambda: (
            hf_ret(
                pixel_values=images, input_ids=enc.input_ids, attention_mask=enc.attention_mask, use_itm_head=True
            ).itm_score
        ),
        lambda: itm.match({"image": images, "text_input": texts}, match_head="itm"),
        repeats,
        device=images.device,
    )
    return t_hf, t_vl, float((s_hf.float() - s_vl.float()).abs().max())

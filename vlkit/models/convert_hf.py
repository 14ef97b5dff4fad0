"""State-dict conversion between transformers' BLIP layout and the original (vlkit) layout.

transformers renames only the vision keys (``visual_encoder.*`` → ``vision_model.*``) and drops the
``position_ids`` buffers; text keys are identical.
"""

from __future__ import annotations

import re

import torch

# original prefix -> transformers prefix (a trailing "." means "and everything under it")
_VISION_PREFIXES = {
    "visual_encoder.cls_token": "vision_model.embeddings.class_embedding",
    "visual_encoder.pos_embed": "vision_model.embeddings.position_embedding",
    "visual_encoder.patch_embed.proj.": "vision_model.embeddings.patch_embedding.",
    "visual_encoder.norm.": "vision_model.post_layernorm.",
}
# inside block N: original sub-prefix -> transformers sub-prefix
_BLOCK_PREFIXES = {
    "norm1.": "layer_norm1.",
    "norm2.": "layer_norm2.",
    "attn.qkv.": "self_attn.qkv.",
    "attn.proj.": "self_attn.projection.",
    "mlp.": "mlp.",
}
_BLOCK = {"original": "visual_encoder.blocks.", "hf": "vision_model.encoder.layers."}
HF_ARCHS = ("caption", "retrieval", "vqa")


def _rename(key: str, to_hf: bool) -> str:
    fixed = _VISION_PREFIXES if to_hf else {v: k for k, v in _VISION_PREFIXES.items()}
    for src, dst in fixed.items():
        if key == src or (src.endswith(".") and key.startswith(src)):
            return dst + key[len(src) :]
    src_block, dst_block = (_BLOCK["original"], _BLOCK["hf"]) if to_hf else (_BLOCK["hf"], _BLOCK["original"])
    match = re.match(re.escape(src_block) + r"(\d+)\.(.*)", key)
    if match:
        index, rest = match.groups()
        subs = _BLOCK_PREFIXES if to_hf else {v: k for k, v in _BLOCK_PREFIXES.items()}
        for src, dst in subs.items():
            if rest.startswith(src):
                return f"{dst_block}{index}.{dst}{rest[len(src) :]}"
    return key


def _check_arch(arch: str) -> None:
    if arch not in HF_ARCHS:
        raise ValueError(f"transformers BLIP conversion supports {HF_ARCHS}, not {arch!r}.")


def hf_blip_to_vlkit(state_dict: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """Rename a transformers BLIP state dict to the original layout and add the ``position_ids`` buffers."""
    _check_arch(arch)
    out = {_rename(k, to_hf=False): v for k, v in state_dict.items()}
    for prefix in ("text_encoder.", "text_decoder.bert."):
        emb = f"{prefix}embeddings.position_embeddings.weight"
        if emb in out and f"{prefix}embeddings.position_ids" not in out:
            out[f"{prefix}embeddings.position_ids"] = torch.arange(out[emb].shape[0]).unsqueeze(0)
    return out


def vlkit_to_hf_blip(state_dict: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """Rename a vlkit/original state dict to transformers' layout (drops buffers transformers does not keep)."""
    _check_arch(arch)
    keep_prefixes = {
        "caption": ("visual_encoder.", "text_decoder."),
        "retrieval": ("visual_encoder.", "text_encoder.", "vision_proj.", "text_proj.", "itm_head."),
        "vqa": ("visual_encoder.", "text_encoder.", "text_decoder."),
    }[arch]
    out = {}
    for key, value in state_dict.items():
        if not key.startswith(keep_prefixes) or key.endswith("position_ids"):
            continue
        out[_rename(key, to_hf=True)] = value
    return out

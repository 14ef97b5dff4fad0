"""Export caption, retrieval/ITM and VQA models to transformers' BLIP layout (``config.json`` + safetensors).

The exported directory loads with ``transformers.BlipForConditionalGeneration`` /
``BlipForImageTextRetrieval`` / ``BlipForQuestionAnswering.from_pretrained(out_dir)`` and gives the same
outputs, given the same first token (transformers never swaps in ``[ENC]`` itself).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from vlkit.models.checkpoint import HF_CLASS_TO_ARCH
from vlkit.models.convert_hf import vlkit_to_hf_blip

_ARCH_TO_HF_CLASS = {arch: cls for cls, arch in HF_CLASS_TO_ARCH.items()}


def transformers_arch(model: nn.Module) -> str:
    """The transformers BLIP arch (``caption``/``retrieval``/``vqa``) ``model`` exports to.

    Raises:
        ValueError: for a model transformers has no class for (pre-training, NLVR, dialog, feature extractor).
    """
    arch = getattr(type(model), "HF_ARCH", None)
    if arch is None and all(hasattr(model, a) for a in ("itm_head", "vision_proj", "text_proj", "text_encoder")):
        arch = None if hasattr(model, "text_decoder") else "retrieval"  # retrieval fine-tuning model
    if arch not in _ARCH_TO_HF_CLASS:
        raise ValueError(
            f"{type(model).__name__} has no transformers BLIP counterpart; export a caption, retrieval/ITM or "
            f"VQA model (transformers classes: {', '.join(HF_CLASS_TO_ARCH)})."
        )
    return arch


def transformers_config(model: nn.Module, arch: str) -> dict:
    """A transformers ``BlipConfig`` dict with ``model``'s exact shapes (12 text heads, ViT LayerNorm eps 1e-6)."""
    vis = model.visual_encoder.cfg
    text = model.text_decoder.config if hasattr(model, "text_decoder") else model.text_encoder.config
    tokenizer = model.tokenizer
    return {
        "architectures": [_ARCH_TO_HF_CLASS[arch]],
        "model_type": "blip",
        "projection_dim": int(getattr(model.config, "embed_dim", 256)),
        "image_text_hidden_size": int(getattr(model.config, "embed_dim", 256)),
        "label_smoothing": float(getattr(model.config, "label_smoothing", 0.0)),
        "text_config": {
            "vocab_size": text.vocab_size,
            "hidden_size": text.hidden_size,
            "encoder_hidden_size": vis.width,
            "intermediate_size": text.intermediate_size,
            "num_hidden_layers": text.num_layers,
            "num_attention_heads": text.num_heads,
            "max_position_embeddings": text.max_position_embeddings,
            "layer_norm_eps": text.layer_norm_eps,
            "hidden_dropout_prob": text.hidden_dropout,
            "attention_probs_dropout_prob": text.attention_dropout,
            "bos_token_id": tokenizer.dec_token_id,
            "sep_token_id": tokenizer.sep_token_id,
            "eos_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "label_smoothing": float(getattr(model.config, "label_smoothing", 0.0)),
        },
        "vision_config": {
            "hidden_size": vis.width,
            "intermediate_size": int(vis.width * vis.mlp_ratio),
            "num_hidden_layers": vis.depth,
            "num_attention_heads": vis.num_heads,
            "image_size": vis.image_size,
            "patch_size": vis.patch_size,
            "layer_norm_eps": 1e-6,
        },
    }


def export_to_transformers(model: nn.Module, out_dir: str | Path) -> Path:
    """Write ``config.json`` + ``model.safetensors`` that transformers' BLIP class loads with the same weights.

    Args:
        model: a caption, retrieval/ITM or VQA model.
        out_dir: directory to create (files in it are overwritten).

    Returns:
        ``out_dir`` as a Path.

    Raises:
        ValueError: for a model with no transformers counterpart.
    """
    from safetensors.torch import save_file

    arch = transformers_arch(model)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # safetensors refuses tensors sharing storage (tied weights): store each once, contiguous
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous().clone() for k, v in model.state_dict().items()}
    save_file(vlkit_to_hf_blip(tensors, arch), str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(transformers_config(model, arch), indent=2))
    return out

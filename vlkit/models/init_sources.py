"""Reading the paper's initial weights (``model.init_from``): an ImageNet ViT through timm, BERT through transformers.

Each source is read in its own library's format and returned as that library's state dict, for
:mod:`vlkit.models.init_from` to map onto a BLIP model:

- ``vision: timm:<name>`` (e.g. ``timm:deit_base_patch16_224.fb_in1k``): the weights timm publishes for
  ``<name>``, fetched once into ``$VLKIT_CACHE/huggingface`` (or ``$VLKIT_CACHE/checkpoints`` for a model
  timm only knows by URL) and read from there;
- ``vision: <path>``: a weights file (``.safetensors``, ``.pth``/``.bin`` state dict or ``{"model": ...}``, or
  big_vision's ``.npz``) or a directory written by timm's ``save_for_hf``;
- ``text: <repo id>`` (``bert-base-uncased``) or ``<path>`` (a ``save_pretrained`` directory): read with
  transformers' ``BertLMHeadModel``.

Every file goes through timm's or transformers' own loading (timm's reader, its ViT key filter and
position-embedding resampling, then a strict load; transformers' loading report), into a model built at
the shape of the BLIP encoder it will initialise. With ``VLKIT_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``) nothing
touches the network: a file that is not cached is an error naming the config key and the URL to fetch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from vlkit.common.paths import cache_root
from vlkit.models.vit import VisionConfig

# The paper's initialisation (BLIP_SPEC §8): DeiT-B/16 (ImageNet-1k) for ViT-B, ViT-L/16 ImageNet-21k for ViT-L.
PAPER_VISION = {"base": "timm:deit_base_patch16_224.fb_in1k", "large": "timm:vit_large_patch16_224.augreg_in21k"}
PAPER_TEXT = "bert-base-uncased"
# any ViT architecture works for a file: it is built at the BLIP encoder's shape before the weights load
_FILE_ARCH = "vit_base_patch16_224"
_TRUE = ("1", "true", "yes", "on")


class InitFromError(RuntimeError):
    """An ``init_from`` source that cannot be read or does not fit; the message names the key and the fix."""


def offline() -> bool:
    """Whether vlkit must not reach the network (``VLKIT_OFFLINE`` or ``HF_HUB_OFFLINE`` set to 1/true)."""
    return any(os.environ.get(k, "").strip().lower() in _TRUE for k in ("VLKIT_OFFLINE", "HF_HUB_OFFLINE"))


def hf_cache_dir() -> Path:
    """``$VLKIT_CACHE/huggingface``: where timm and transformers downloads for ``init_from`` are kept."""
    return cache_root() / "huggingface"


def _timm_shape(cfg: VisionConfig) -> dict[str, Any]:
    return {
        "img_size": cfg.image_size,
        "patch_size": cfg.patch_size,
        "embed_dim": cfg.width,
        "depth": cfg.depth,
        "num_heads": cfg.num_heads,
        "mlp_ratio": cfg.mlp_ratio,
        "qkv_bias": True,
        "class_token": True,
        "global_pool": "token",
        "num_classes": 0,  # BLIP has no classifier: timm drops the checkpoint's head
    }


def _hub_file(name: str, key: str) -> tuple[Path, str]:
    """The cached local copy of timm model ``name``'s weights (downloaded unless offline), and its URL."""
    from timm.models import get_pretrained_cfg

    pcfg = get_pretrained_cfg(name)
    if pcfg is None:
        raise InitFromError(f"{key}: timm has no pretrained weights named {name!r} (see timm.list_pretrained()).")
    if pcfg.hf_hub_id:
        from huggingface_hub import hf_hub_download, try_to_load_from_cache

        repo = pcfg.hf_hub_id
        filename = pcfg.hf_hub_filename or "model.safetensors"
        url = f"https://huggingface.co/{repo}/resolve/main/{filename}"
        cached = try_to_load_from_cache(repo, filename, cache_dir=str(hf_cache_dir()))
        if isinstance(cached, str):
            return Path(cached), url
        if offline():
            raise InitFromError(
                f"{key}: timm:{name} is not in the cache ({hf_cache_dir()}) and vlkit is offline (VLKIT_OFFLINE / "
                f"HF_HUB_OFFLINE). Fetch {url} once online (any vlkit run with this config does it), or download it "
                f"yourself and set {key} to the file's path."
            )
        try:
            return Path(hf_hub_download(repo, filename, cache_dir=str(hf_cache_dir()))), url
        except Exception as err:  # noqa: BLE001 - network errors come in many types
            raise InitFromError(f"{key}: could not download {url}: {type(err).__name__}: {err}") from None
    if pcfg.url:
        from vlkit.models.hub import checkpoint_cache_dir, download

        target = checkpoint_cache_dir() / pcfg.url.split("://", 1)[-1]
        if offline() and not target.is_file():
            raise InitFromError(
                f"{key}: timm:{name} is not in the cache ({target}) and vlkit is offline. Fetch {pcfg.url} there."
            )
        try:
            return download(pcfg.url), pcfg.url
        except RuntimeError as err:
            raise InitFromError(f"{key}: {err}") from None
    raise InitFromError(f"{key}: timm's {name!r} names no weights file (neither a Hugging Face repo nor a URL).")


def _weights_in_dir(path: Path) -> Path:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (path / name).is_file():
            return path / name
    raise InitFromError(f"model.init_from.vision: {path} holds neither model.safetensors nor pytorch_model.bin.")


def read_vision_source(
    spec: str, cfg: VisionConfig, key: str = "model.init_from.vision"
) -> tuple[dict, str, dict[str, str]]:
    """The state dict of a timm ViT built at ``cfg``'s shape and loaded strictly from ``spec``.

    The weights are read by timm (``load_state_dict``: safetensors, or a pickle read with ``weights_only``)
    and adapted by timm's ViT checkpoint filter (position embeddings resampled to ``cfg.image_size``); the
    classifier is dropped (BLIP has none) and everything else must fit exactly.

    Returns:
        ``(state_dict, label, dropped)``: ``dropped`` maps the classifier keys that were removed to the reason.

    Raises:
        InitFromError: for a missing path, an uncached file offline, or weights that do not fit ``cfg``.
    """
    import timm
    from timm.models import load_state_dict
    from timm.models.vision_transformer import checkpoint_filter_fn

    if spec.startswith("timm:"):
        arch = spec[len("timm:") :]
        path, url = _hub_file(arch, key)
        label = f"{spec} ({url})"
    else:
        arch, path, label = _FILE_ARCH, Path(spec).expanduser(), spec
        if not path.exists():
            raise InitFromError(
                f"{key}: {spec!r} does not exist. Give a weights file (.safetensors/.pth/.bin/.npz), a directory "
                f"saved by timm (config.json + weights), or timm:<name> (e.g. {PAPER_VISION['base']})."
            )
        if path.is_dir():
            path = _weights_in_dir(path)
    dropped: dict[str, str] = {}
    try:
        model = timm.create_model(arch, pretrained=False, **_timm_shape(cfg))
        if path.suffix == ".npz":  # big_vision's format (the original ViT-L/16 in21k file): timm's own reader
            model.load_pretrained(str(path))
        else:
            state = checkpoint_filter_fn(load_state_dict(str(path)), model)
            for name in [k for k in state if k.split(".")[0] in ("head", "head_dist", "pre_logits")]:
                dropped[f"vision:{name}"] = "the ImageNet classifier (BLIP has none)"
                del state[name]
            model.load_state_dict(state, strict=True)
    except Exception as err:  # noqa: BLE001 - timm/torch raise RuntimeError/KeyError/ValueError on bad weights
        msg = " ".join(str(err).split())[:600]
        raise InitFromError(
            f"{key}: {label} does not load into a ViT of this model's shape (width {cfg.width}, depth {cfg.depth}, "
            f"patch {cfg.patch_size}; model.vit): {type(err).__name__}: {msg}"
        ) from None
    return dict(model.state_dict()), label, dropped


def read_text_source(spec: str, key: str = "model.init_from.text") -> tuple[dict, str, dict[str, str]]:
    """BERT's weights through transformers' ``BertLMHeadModel``: state dict, label, and keys transformers dropped.

    Returns:
        ``(state_dict, label, dropped)``: ``dropped`` maps each key of the file that ``BertLMHeadModel`` does
        not hold (BERT's pooler and next-sentence head) to the reason.

    Raises:
        InitFromError: for a missing directory, an uncached repo offline, or a file lacking BERT weights.
    """
    from transformers import BertLMHeadModel

    local = Path(spec).expanduser()
    is_path = local.exists() or spec.startswith(("/", ".", "~")) or os.sep + os.sep in spec
    if is_path and not local.is_dir():
        raise InitFromError(
            f"{key}: {spec!r} is not a directory written by transformers' save_pretrained (config.json + weights). "
            f"Fix the path, or give a Hugging Face repo id such as {PAPER_TEXT}."
        )
    url = f"https://huggingface.co/{spec}"
    try:
        model, info = BertLMHeadModel.from_pretrained(
            str(local) if is_path else spec,
            cache_dir=str(hf_cache_dir()),
            local_files_only=offline(),
            is_decoder=True,
            output_loading_info=True,
        )
    except (OSError, ValueError) as err:
        where = f"{local}" if is_path else f"{url} (cache: {hf_cache_dir()})"
        hint = " vlkit is offline (VLKIT_OFFLINE / HF_HUB_OFFLINE): fetch it once online." if offline() else ""
        msg = str(err).splitlines()[0][:300] if str(err) else ""
        raise InitFromError(f"{key}: could not read BERT from {where}.{hint} {type(err).__name__}: {msg}") from None
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        raise InitFromError(
            f"{key}: {spec} lacks {len(missing)} of BertLMHeadModel's weights ({', '.join(missing[:5])}...), which "
            f"transformers would initialise randomly. Save a BERT with its language-model head (BertLMHeadModel, "
            f"BertForMaskedLM or BertForPreTraining, as bert-base-uncased is)."
        )
    dropped = {
        k: "in the file, not held by BertLMHeadModel (BERT's pooler / next-sentence head)"
        for k in info.get("unexpected_keys") or []
    }
    state = {k: v for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    return state, str(local) if is_path else f"{spec} ({url})", dropped

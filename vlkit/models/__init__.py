"""vlkit models: ``load_model``, ``load_model_and_preprocess`` and ``model_zoo``.

Importing this package registers the BLIP models. Nothing here touches the network until a model with
released weights is asked for with ``pretrained=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from vlkit.common.config import ConfigError, load_model_default_config
from vlkit.common.registry import registry
from vlkit.models import blip  # noqa: F401  (registers the BLIP models)
from vlkit.models.base_model import BaseModel
from vlkit.models.checkpoint import CheckpointError, LoadReport, resolve_hub_id
from vlkit.models.precision import UnsupportedDtypeError, cast_for_inference
from vlkit.models.pretrained import VLKIT_CONFIG_FILE
from vlkit.models.zoo import model_zoo


def _saved_config(checkpoint: str | Path | None, name: str) -> DictConfig | None:
    """The ``model:`` section saved with ``checkpoint``, if any: ``<file>.yaml`` beside a
    :meth:`BaseModel.save_checkpoint` file, or ``vlkit.yaml`` in a :meth:`BaseModel.save_pretrained` directory."""
    if checkpoint is None or isinstance(checkpoint, dict) or "://" in str(checkpoint):
        return None
    path = Path(checkpoint).expanduser()
    side = path / VLKIT_CONFIG_FILE if path.is_dir() else path.with_suffix(".yaml")
    if (path.suffix != ".safetensors" and not path.is_dir()) or not side.is_file():
        return None
    saved = OmegaConf.load(side)
    saved = saved.model if "model" in saved else saved
    if saved.get("arch") not in (None, name):
        raise ConfigError(f"{path} was saved from a {saved.arch!r} model (see {side}); load it with that name.")
    return saved


def load_model(
    name: str,
    model_type: str,
    is_eval: bool = False,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | None = None,
    pretrained: bool = True,
    strict: bool = True,
    dtype: str | torch.dtype | None = None,
    **overrides: Any,
) -> BaseModel:
    """Build a registered model.

    Args:
        name: Registered model name (``print(model_zoo)``).
        model_type: One of the model's types (its YAML under ``vlkit/configs/models/<name>/``).
        is_eval: Put the model in eval mode.
        device: Where to put it.
        checkpoint: Weights to load instead of the type's released ones: a URL, a ``.pth`` (original
            ``{"model": ...}`` or a bare state dict), a ``.safetensors`` file (a ``save_checkpoint`` file
            also restores the config saved beside it), a transformers BLIP directory, or a Hugging Face Hub id
            ``owner/name[@revision]`` (e.g. ``"Salesforce/blip-image-captioning-base"``; fetched into the Hub
            cache once, ``HF_HUB_OFFLINE=1`` reads only the cache).
        pretrained: Load the released weights named by the YAML; ``False`` gives random weights and no I/O
            (a logged warning; ``model.load_report.random_init`` is True).
        strict: Fail on missing/unexpected ``checkpoint`` keys (``False`` keeps the matching ones, e.g.
            pre-training weights into a task model).
        dtype: ``"bfloat16"``, ``"float16"``, ``"float32"`` or a ``torch.dtype`` to cast the weights to, for
            inference (``None``: float32). Outputs stay close to float32 (docs/models.md, "Half precision").
        **overrides: ``model:`` config keys to change (e.g. ``image_size=224``).

    Raises:
        CheckpointError: when the checkpoint cannot be read or does not fit (keys listed by name), or a Hub id
            cannot be resolved (unknown, or offline and not cached).
        UnsupportedDtypeError: for an unknown ``dtype`` or one ``device`` cannot compute in.
    """
    model_cls = registry.get_model_class(name)
    cfg = load_model_default_config(model_cls, model_type)
    checkpoint = resolve_hub_id(checkpoint) if checkpoint is not None else None
    saved = _saved_config(checkpoint, name)
    if saved is not None:
        cfg = OmegaConf.merge(cfg, saved)
    cfg = OmegaConf.merge(cfg, overrides)
    cfg.model_type = model_type
    model = model_cls.from_config(
        cfg, load_weights=pretrained and checkpoint is None, announce_random=checkpoint is None
    )
    if checkpoint is not None:
        model.load_checkpoint(checkpoint, strict=strict)
    model = model.eval() if is_eval else model
    return cast_for_inference(model, dtype, device)


def load_preprocess(config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(vis_processors, txt_processors)`` with ``train``/``eval`` entries from a ``preprocess`` section.

    Args:
        config: a model config (dataclass or mapping) holding ``preprocess``, or the section itself.
    """
    from vlkit.processors import load_processor

    pre = config.preprocess if hasattr(config, "preprocess") else config.get("preprocess", config)
    pre = OmegaConf.create(pre or {})
    out: list[dict[str, Any]] = []
    for key in ("vis_processor", "text_processor"):
        section = pre.get(key) or {}
        procs = {}
        for split in ("train", "eval"):
            if split in section:
                spec = OmegaConf.to_container(section[split])
                procs[split] = load_processor(spec.pop("name"), spec)
        out.append(procs)
    return out[0], out[1]


def load_model_and_preprocess(
    name: str,
    model_type: str,
    is_eval: bool = False,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | None = None,
    pretrained: bool = True,
    dtype: str | torch.dtype | None = None,
    **overrides: Any,
) -> tuple[BaseModel, dict[str, Any], dict[str, Any]]:
    """``(model, vis_processors, txt_processors)`` as in LAVIS; arguments as :func:`load_model`.

    The processors come from the model type's ``preprocess:`` section, each with ``"train"`` and ``"eval"``.
    """
    model = load_model(name, model_type, is_eval, device, checkpoint, pretrained, dtype=dtype, **overrides)
    vis, txt = load_preprocess(model.config)
    return model, vis, txt


__all__ = [
    "BaseModel",
    "CheckpointError",
    "LoadReport",
    "UnsupportedDtypeError",
    "load_model",
    "load_model_and_preprocess",
    "load_preprocess",
    "model_zoo",
]

"""vlkit models: ``load_model``, ``load_model_and_preprocess`` and ``model_zoo``.

Importing this package registers the BLIP models. Nothing here touches the network until a model with
released weights is asked for with ``pretrained=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from vlkit.common.config import load_model_default_config
from vlkit.common.registry import registry
from vlkit.models import blip  # noqa: F401  (registers the BLIP models)
from vlkit.models.base_model import BaseModel
from vlkit.models.checkpoint import CheckpointError, LoadReport


def load_model(
    name: str,
    model_type: str,
    is_eval: bool = False,
    device: str | torch.device = "cpu",
    checkpoint: str | Path | None = None,
    pretrained: bool = True,
    **overrides: Any,
) -> BaseModel:
    """Build a registered model.

    Args:
        name: Registered model name (``vlkit list models``).
        model_type: One of the model's types (its YAML under ``vlkit/configs/models/<name>/``).
        is_eval: Put the model in eval mode.
        device: Where to put it.
        checkpoint: Weights to load instead of the type's released ones: a URL, a ``.pth`` (original
            ``{"model": ...}`` or a bare state dict), a ``.safetensors`` file or a transformers BLIP directory.
            Loaded strictly.
        pretrained: Load the released weights named by the YAML; ``False`` gives random weights and no I/O.
        **overrides: ``model:`` config keys to change (e.g. ``image_size=224``).
    """
    model_cls = registry.get_model_class(name)
    cfg = OmegaConf.merge(load_model_default_config(model_cls, model_type), overrides)
    cfg.model_type = model_type
    model = model_cls.from_config(cfg, load_weights=pretrained and checkpoint is None)
    if checkpoint is not None:
        model.load_checkpoint(checkpoint, strict=True)
    model = model.to(device)
    return model.eval() if is_eval else model


def load_preprocess(config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(vis_processors, txt_processors)`` with ``train``/``eval`` entries from a model's ``preprocess`` section."""
    from vlkit.processors import load_processor

    pre = OmegaConf.create(config.preprocess if hasattr(config, "preprocess") else config.get("preprocess", {}))
    out: list[dict[str, Any]] = []
    for key in ("vis_processor", "text_processor"):
        section = pre.get(key, {}) or {}
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
    **overrides: Any,
) -> tuple[BaseModel, dict[str, Any], dict[str, Any]]:
    """``(model, vis_processors, txt_processors)``, LAVIS-style; see :func:`load_model`."""
    model = load_model(name, model_type, is_eval, device, checkpoint, pretrained, **overrides)
    vis, txt = load_preprocess(model.config)
    return model, vis, txt


class ModelZoo:
    """``print(model_zoo)`` lists every registered model and its types."""

    def items(self) -> list[tuple[str, list[str]]]:
        return [
            (n, sorted(getattr(registry.get_model_class(n), "PRETRAINED_MODEL_CONFIG_DICT", {})))
            for n in registry.list_models()
        ]

    def __str__(self) -> str:
        rows = self.items()
        width = max((len(n) for n, _ in rows), default=10) + 2
        lines = [f"{'Architecture':{width}s}Types", "=" * (width + 40)]
        lines += [f"{n:{width}s}{', '.join(types)}" for n, types in rows]
        return "\n".join(lines)

    def __iter__(self):  # noqa: ANN204
        return iter(self.items())

    def __len__(self) -> int:
        return len(self.items())


model_zoo = ModelZoo()

__all__ = [
    "BaseModel",
    "CheckpointError",
    "LoadReport",
    "load_model",
    "load_model_and_preprocess",
    "load_preprocess",
    "model_zoo",
]

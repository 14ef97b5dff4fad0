"""AdamW with BLIP's parameter groups.

No weight decay on biases, normalisation weights, any other 1-d parameter, and the names a model
lists in ``no_weight_decay()``; an optional lower learning rate for the image encoder
(``run.vit_lr_scale`` on parameters under ``visual_encoder``). Frozen parameters are left out.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from omegaconf import DictConfig
from torch import nn

from vlkit.runners.optim_in_backward import OptimizerInBackward, check_optimizer_in_backward

VISUAL_ENCODER_PREFIX = "visual_encoder."


def _matches(name: str, patterns: Iterable[str]) -> bool:
    # A pattern is a full parameter name or a module prefix ("visual_encoder.pos_embed", "text_proj").
    return any(name == p or name.startswith(p + ".") for p in patterns)


def build_param_groups(model: nn.Module, weight_decay: float, vit_lr_scale: float = 1.0) -> list[dict]:
    """Split the trainable parameters of ``model`` into AdamW groups.

    Args:
        model: The (unwrapped) model; ``model.no_weight_decay()`` may return names or module prefixes.
        weight_decay: Decay of the decayed groups.
        vit_lr_scale: ``lr_scale`` of parameters under ``visual_encoder`` (the LR schedule multiplies by it).

    Returns:
        Non-empty groups with keys ``params``, ``weight_decay``, ``lr_scale`` and ``names``.
    """
    skip = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    groups: dict[tuple[bool, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim <= 1 or name.endswith(".bias") or _matches(name, skip)
        is_vit = vit_lr_scale != 1.0 and name.startswith(VISUAL_ENCODER_PREFIX)
        group = groups.setdefault(
            (no_decay, is_vit),
            {
                "params": [],
                "names": [],
                "weight_decay": 0.0 if no_decay else weight_decay,
                "lr_scale": vit_lr_scale if is_vit else 1.0,
            },
        )
        group["params"].append(param)
        group["names"].append(name)
    return [groups[key] for key in sorted(groups)]


def build_optimizer(
    model: nn.Module, run_cfg: DictConfig, world_size: int = 1
) -> torch.optim.AdamW | OptimizerInBackward:
    """AdamW over :func:`build_param_groups` with ``run.init_lr`` / ``run.weight_decay``; with
    ``run.optimizer_in_backward`` the same AdamW, run parameter by parameter inside the backward pass.

    Raises:
        ValueError: if the model has no trainable parameter.
        ConfigError: if ``run.optimizer_in_backward`` clashes with another setting (the message names it).
    """
    groups = build_param_groups(model, run_cfg.weight_decay, run_cfg.vit_lr_scale)
    if not groups:
        raise ValueError("The model has no trainable parameters (all have requires_grad=False); nothing to train.")
    # betas as in BLIP/LAVIS (0.9, 0.999); "names" is kept in the groups for inspection and ignored by AdamW.
    # The fused kernel updates every tensor in one pass (CPU and CUDA): ~5x faster than the per-tensor loop
    # on the tiny models' 169 tensors on CPU, a few % of a training step.
    params = [p for g in groups for p in g["params"]]
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params)

    def adamw(param_groups: list[dict]) -> torch.optim.AdamW:
        return torch.optim.AdamW(
            param_groups, lr=run_cfg.init_lr, weight_decay=run_cfg.weight_decay, betas=(0.9, 0.999), fused=fused
        )

    if run_cfg.get("optimizer_in_backward", False):
        check_optimizer_in_backward(run_cfg, world_size)
        return OptimizerInBackward(groups, adamw)
    return adamw(groups)

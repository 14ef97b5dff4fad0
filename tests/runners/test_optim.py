from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from tests.runners.toy_components import ToyModel, ToyModelConfig
from vlkit.common.config import RunConfig
from vlkit.runners.optim import build_optimizer, build_param_groups


def _names(groups: list[dict], decay: bool) -> set[str]:
    return {n for g in groups if (g["weight_decay"] > 0) == decay for n in g["names"]}


def test_no_decay_on_bias_norm_1d_and_model_names() -> None:
    groups = build_param_groups(ToyModel(ToyModelConfig()), weight_decay=0.05)
    assert _names(groups, decay=True) == {"visual_encoder.weight", "head.weight"}
    # biases, LayerNorm weight (1-d) and `temp` (0-d, and listed in no_weight_decay) are not decayed
    assert _names(groups, decay=False) == {"visual_encoder.bias", "norm.weight", "norm.bias", "head.bias", "temp"}
    assert all(g["lr_scale"] == 1.0 for g in groups)


def test_frozen_params_are_left_out() -> None:
    groups = build_param_groups(ToyModel(ToyModelConfig()), weight_decay=0.05)
    assert "frozen_scale" not in {n for g in groups for n in g["names"]}


def test_vit_lr_scale_applies_to_visual_encoder_only() -> None:
    groups = build_param_groups(ToyModel(ToyModelConfig()), weight_decay=0.05, vit_lr_scale=0.1)
    scaled = {n for g in groups if g["lr_scale"] == pytest.approx(0.1) for n in g["names"]}
    assert scaled == {"visual_encoder.weight", "visual_encoder.bias"}


def test_build_optimizer_is_adamw_with_groups() -> None:
    run = OmegaConf.merge(OmegaConf.structured(RunConfig), {"task": "x", "init_lr": 3e-4, "weight_decay": 0.02})
    opt = build_optimizer(ToyModel(ToyModelConfig()), run)
    assert type(opt).__name__ == "AdamW"
    assert sorted(g["weight_decay"] for g in opt.param_groups) == [0.0, 0.02]
    assert all(g["lr"] == pytest.approx(3e-4) for g in opt.param_groups)
    assert all(g["fused"] for g in opt.param_groups)  # one kernel for all tensors on CPU/CUDA

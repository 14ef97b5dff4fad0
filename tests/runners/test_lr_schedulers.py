from __future__ import annotations

import math

import pytest
import torch

from vlkit.common.config import ConfigError
from vlkit.common.registry import registry
from vlkit.runners.lr_schedulers import LinearWarmupCosineLR, LinearWarmupStepLR


def _optimizer() -> torch.optim.Optimizer:
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    return torch.optim.AdamW([{"params": [a], "lr_scale": 1.0}, {"params": [b], "lr_scale": 0.1}], lr=1.0)


def test_registered_names() -> None:
    names = registry.list_lr_schedulers()
    assert {"linear_warmup_cosine_lr", "linear_warmup_step_lr", "constant_lr"} <= set(names)


def test_warmup_is_linear_from_warmup_lr() -> None:
    sched = registry.get_lr_scheduler_class("constant_lr")(_optimizer(), init_lr=1e-3, warmup_lr=1e-5, warmup_steps=10)
    assert sched.lr_at(0, 0) == pytest.approx(1e-5)
    assert sched.lr_at(0, 5) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))
    assert sched.lr_at(0, 10) == pytest.approx(1e-3)
    assert sched.lr_at(3, 500) == pytest.approx(1e-3)


def test_cosine_per_epoch() -> None:
    sched = LinearWarmupCosineLR(_optimizer(), init_lr=1e-4, min_lr=1e-6, max_epoch=4)
    assert sched.lr_at(0, 100) == pytest.approx(1e-4)
    assert sched.lr_at(2, 100) == pytest.approx(1e-6 + (1e-4 - 1e-6) * 0.5)
    assert sched.lr_at(1, 100) == pytest.approx(1e-6 + (1e-4 - 1e-6) * 0.5 * (1 + math.cos(math.pi / 4)))
    assert sched.lr_at(4, 100) == pytest.approx(1e-6)


def test_step_decay_blip_pretrain() -> None:
    # BLIP pre-training: 3e-4, x0.9 per epoch, floor min_lr, warm-up over 3000 steps from 1e-6.
    sched = LinearWarmupStepLR(
        _optimizer(), init_lr=3e-4, min_lr=1e-6, warmup_lr=1e-6, warmup_steps=3000, decay_rate=0.9
    )
    assert sched.lr_at(0, 0) == pytest.approx(1e-6)
    assert sched.lr_at(0, 1500) == pytest.approx(1e-6 + (3e-4 - 1e-6) * 0.5)
    assert sched.lr_at(0, 3000) == pytest.approx(3e-4)
    assert sched.lr_at(5, 20000) == pytest.approx(3e-4 * 0.9**5)
    assert sched.lr_at(200, 10**7) == pytest.approx(1e-6)  # floor


def test_step_applies_group_lr_scale_and_state_round_trip() -> None:
    opt = _optimizer()
    sched = LinearWarmupStepLR(opt, init_lr=1e-3, decay_rate=0.5)
    assert sched.step(2, 50) == pytest.approx(2.5e-4)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([2.5e-4, 2.5e-5])
    opt2 = _optimizer()
    restored = LinearWarmupStepLR(opt2, init_lr=1e-3, decay_rate=0.5)
    restored.load_state_dict(sched.state_dict())
    assert [g["lr"] for g in opt2.param_groups] == pytest.approx([2.5e-4, 2.5e-5])


def test_warmup_stable_decay_counts_the_update_being_made() -> None:
    sched = registry.get_lr_scheduler_class("warmup_stable_decay_lr")(
        _optimizer(), total_steps=100, decay_fraction=0.2, init_lr=2e-3, warmup_steps=20
    )
    assert [sched.lr_at(0, k) for k in (0, 19, 20, 79)] == pytest.approx([1e-4, 2e-3, 2e-3, 2e-3])
    assert [sched.lr_at(0, k) for k in (80, 90, 99)] == pytest.approx([2e-3, 1e-3, 1e-4])  # to 0 over the last fifth
    with pytest.raises(ConfigError, match="max_iters"):
        registry.get_lr_scheduler_class("warmup_stable_decay_lr")(_optimizer(), total_steps=0, init_lr=1e-3)

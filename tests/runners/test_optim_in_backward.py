"""run.optimizer_in_backward: AdamW run parameter by parameter inside the backward pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from tests.runners.conftest import final_weights, max_abs_diff
from vlkit.common.config import ConfigError
from vlkit.runners.optim import build_optimizer
from vlkit.runners.optim_in_backward import OptimizerInBackward

RunToy = Callable[..., dict[str, Any]]


class Tied(torch.nn.Module):
    """Decayed and undecayed groups, and a weight used twice (its gradient accumulates before the update)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 8)
        self.norm = torch.nn.LayerNorm(8)
        self.hidden = torch.nn.Linear(8, 8)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.hidden(self.norm(self.embed(ids)))
        return (h @ self.embed.weight.T).logsumexp(-1).mean()


def _train(in_backward: bool, steps: int = 4) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = Tied()
    run = OmegaConf.create(
        {"init_lr": 0.05, "weight_decay": 0.1, "vit_lr_scale": 1.0, "optimizer_in_backward": in_backward}
    )
    optimizer = build_optimizer(model, run)
    assert isinstance(optimizer, OptimizerInBackward) == in_backward
    ids = torch.randint(0, 10, (steps, 6))
    for step in range(steps):
        for group in optimizer.param_groups:  # a changing lr, set before the backward pass as the runners do
            group["lr"] = 0.05 / (step + 1)
        optimizer.zero_grad(set_to_none=True)
        model(ids[step]).backward()
        if in_backward:
            assert all(p.grad is None for p in model.parameters())  # freed as soon as each update ran
        optimizer.step()
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_updates_as_adamw_after_the_backward_pass() -> None:
    normal, in_backward = _train(False), _train(True)
    assert max_abs_diff(normal, in_backward) == 0.0
    torch.manual_seed(0)
    assert max_abs_diff(Tied().state_dict(), normal) > 0  # it trained


def test_runner_job_matches_the_normal_step(run_toy: RunToy) -> None:
    opts = ["run.max_epoch=2", "run.valid_splits=[]"]  # warm-up then a constant lr: the lr changes between steps
    normal = run_toy(*opts, "run.job_name=normal")
    in_backward = run_toy(*opts, "run.optimizer_in_backward=true", "run.job_name=in_backward")
    assert max_abs_diff(final_weights(normal["job_dir"]), final_weights(in_backward["job_dir"])) == 0.0


@pytest.mark.parametrize(
    "option,key",
    [
        ("run.grad_clip=1.0", "run.grad_clip"),
        ("run.accum_grad_iters=2", "run.accum_grad_iters"),
    ],
)
def test_clashing_settings_name_their_key(run_toy: RunToy, option: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"run.optimizer_in_backward=true .* {key}"):
        run_toy("run.optimizer_in_backward=true", option)


def test_resuming_a_normal_checkpoint_is_a_clear_error() -> None:
    torch.manual_seed(0)
    model = Tied()
    run = {"init_lr": 0.05, "weight_decay": 0.1, "vit_lr_scale": 1.0}
    normal = build_optimizer(model, OmegaConf.create(run))
    in_backward = build_optimizer(model, OmegaConf.create({**run, "optimizer_in_backward": True}))
    with pytest.raises(ValueError, match="resume with the setting the run was started with"):
        in_backward.load_state_dict(normal.state_dict())

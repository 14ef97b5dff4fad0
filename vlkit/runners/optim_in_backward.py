"""AdamW applied inside the backward pass: ``run.optimizer_in_backward``.

A normal step holds every gradient until the backward pass ends and ``optimizer.step()`` runs: for a base
captioner that is ~0.9 GB of fp32 gradients on top of the weights and AdamW's two moments. Here each
parameter's AdamW update runs as soon as its gradient is complete (a post-accumulate-grad hook) and the
gradient is freed at once, so only the gradients in flight exist at any time (PyTorch's "optimizer step in
backward" recipe). The update of each parameter is the one AdamW would make (same groups, same fused kernel,
one tensor at a time); the learning rate is set before the backward pass (the runners do).

It cannot be combined with what needs all gradients at once: gradient clipping (the global norm),
gradient accumulation, fp16 loss scaling (unscaling and the overflow check), or data-parallel training
(the gradients are averaged over ranks after the hooks would have run). :func:`check_optimizer_in_backward`
names the key to change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from omegaconf import DictConfig

from vlkit.common.config import ConfigError


def check_optimizer_in_backward(run_cfg: DictConfig, world_size: int) -> None:
    """Raise a :class:`ConfigError` naming the key that rules out ``run.optimizer_in_backward``."""
    clashes = {
        "run.grad_clip": float(run_cfg.get("grad_clip", 0.0)) > 0,
        "run.accum_grad_iters": int(run_cfg.get("accum_grad_iters", 1)) != 1,
        "run.amp": str(run_cfg.get("amp", "none")) == "fp16",
        "the world size (distributed training)": world_size > 1,
    }
    for key, clash in clashes.items():
        if clash:
            raise ConfigError(
                f"run.optimizer_in_backward=true updates each parameter during the backward pass, which needs "
                f"all gradients at once for {key} (set run.optimizer_in_backward=false, or run.grad_clip=0, "
                "run.accum_grad_iters=1, run.amp=bf16|none, one process)."
            )


class OptimizerInBackward:
    """One optimizer per parameter, stepped by the parameter's post-accumulate-grad hook.

    ``param_groups`` lists the per-parameter groups (the lr schedule sets their ``lr``), ``state_dict`` holds
    every per-parameter optimizer's state in parameter order, and ``step``/``zero_grad`` do nothing: the work
    happened in the backward pass.

    Args:
        groups: Parameter groups as for the wrapped optimizer (``params`` plus its options).
        make: Builds the wrapped optimizer from a one-parameter group list, e.g. ``lambda g: AdamW(g, ...)``.
    """

    def __init__(self, groups: list[dict], make: Callable[[list[dict]], torch.optim.Optimizer]) -> None:
        self._optimizers: list[torch.optim.Optimizer] = []
        for group in groups:
            names = group.get("names", [None] * len(group["params"]))
            options = {k: v for k, v in group.items() if k not in ("params", "names")}
            for param, name in zip(group["params"], names):
                optimizer = make([{**options, "params": [param], "names": [name]}])
                self._optimizers.append(optimizer)
                param.register_post_accumulate_grad_hook(self._hook(optimizer))

    @property
    def param_groups(self) -> list[dict]:
        """The per-parameter groups, read afresh: ``load_state_dict`` replaces the wrapped optimizers' group dicts."""
        return [g for opt in self._optimizers for g in opt.param_groups]

    @staticmethod
    def _hook(optimizer: torch.optim.Optimizer) -> Callable[[torch.Tensor], None]:
        def update(param: torch.Tensor) -> None:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return update

    def step(self, closure: Callable[[], float] | None = None) -> None:
        """Nothing to do: every parameter was updated in the backward pass."""
        return None

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Nothing to do: every gradient was freed once its parameter was updated."""
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer_in_backward": [opt.state_dict() for opt in self._optimizers]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the per-parameter states saved by :meth:`state_dict`.

        Raises:
            ValueError: for a checkpoint of a normal optimizer, or of a model with other parameters.
        """
        states = state_dict.get("optimizer_in_backward")
        if states is None:
            raise ValueError(
                "The checkpoint's optimizer state comes from a normal optimizer step but run.optimizer_in_backward "
                "is true; resume with the setting the run was started with."
            )
        if len(states) != len(self._optimizers):
            raise ValueError(
                f"The checkpoint holds optimizer states for {len(states)} parameters; this model trains "
                f"{len(self._optimizers)}."
            )
        for optimizer, state in zip(self._optimizers, states):
            optimizer.load_state_dict(state)

"""How several ranks share the training: ``run.strategy`` = ``ddp`` (replicas) or ``fsdp`` (FSDP2 shards).

``fsdp`` applies torch's ``fully_shard`` (FSDP2) to each ViT block and each MED layer, and to the model for
the rest, so every rank holds 1/world of the parameters, gradients and optimiser state. Layers whose
modules are shared (the pre-training decoder shares all but self-attention with the encoder) form one
group. Momentum encoders are not trained and stay whole on every rank (updated from the gathered online
weights); 0-d parameters (the ITC temperature), which ``fully_shard`` cannot split, stay whole too, with
their gradients averaged over the ranks. Checkpoints hold the full state dict (gathered; written by rank 0),
so their weights load into any world size; evaluation runs on a whole copy of the model.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from vlkit.common.config import ConfigError

STRATEGIES = ("ddp", "fsdp")
MOMENTUM_PREFIXES = ("visual_encoder_m.", "vision_proj_m.", "text_encoder_m.", "text_proj_m.")


def _average_grad(param: torch.Tensor) -> None:
    torch.distributed.all_reduce(param.grad)
    param.grad /= torch.distributed.get_world_size()


def shard_units(model: nn.Module) -> list[list[nn.Module]]:
    """The groups ``fully_shard`` gets: each ViT block and each MED layer, layers sharing parameters together."""
    from timm.models.vision_transformer import Block

    from vlkit.models.med import MedLayer

    units: list[list[nn.Module]] = []
    owner: dict[int, int] = {}  # parameter id -> unit index
    for name, module in model.named_modules():
        if not isinstance(module, Block | MedLayer) or f"{name}.".startswith(MOMENTUM_PREFIXES):
            continue
        hits = {owner[id(p)] for p in module.parameters() if id(p) in owner}
        if len(hits) > 1:
            raise ConfigError(f"run.strategy=fsdp: {name} shares parameters with several layers; cannot group it.")
        index = hits.pop() if hits else len(units)
        if index == len(units):
            units.append([])
        units[index].append(module)
        for p in module.parameters():
            owner[id(p)] = index
    return units


class Strategy:
    """``ddp``: the model is wrapped in DistributedDataParallel on several ranks; states are the model's own."""

    name = "ddp"

    def __init__(self, world_size: int, device: torch.device, find_unused_parameters: bool = False) -> None:
        self.world_size, self.device, self.find_unused = world_size, device, find_unused_parameters

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module to train (DDP-wrapped on several ranks)."""
        if self.world_size == 1 or not any(p.requires_grad for p in model.parameters()):
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=self.find_unused)

    def model_state(self, model: nn.Module) -> dict[str, Any]:
        return model.state_dict()

    def load_model_state(self, model: nn.Module, state: dict[str, Any]) -> None:
        model.load_state_dict(state)

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        return optimizer.state_dict()

    def load_optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
        optimizer.load_state_dict(state)

    def eval_model(self, model: nn.Module) -> nn.Module:
        """The model evaluation runs (whole on every rank)."""
        return model


class FSDPStrategy(Strategy):
    """``fsdp``: FSDP2 ``fully_shard`` over the ViT blocks and MED layers (see the module docstring)."""

    name = "fsdp"

    def __init__(self, world_size: int, device: torch.device, find_unused_parameters: bool = False) -> None:
        super().__init__(world_size, device, find_unused_parameters)
        self.replica: nn.Module | None = None
        self.sharded = False

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.world_size == 1:
            return model
        from torch.distributed.fsdp import fully_shard

        self.replica = copy.deepcopy(model)  # evaluation's whole copy, refreshed from the shards when needed
        momentum = {p for n, p in model.named_parameters() if n.startswith(MOMENTUM_PREFIXES)}
        # fully_shard cannot split a 0-d parameter (BLIP's ITC temperature): it stays whole, its gradient averaged
        scalars = {p for p in model.parameters() if p.dim() == 0}
        for p in scalars:
            if p.requires_grad:
                p.register_post_accumulate_grad_hook(_average_grad)
        ignored = momentum | scalars
        for unit in shard_units(model):
            fully_shard(unit if len(unit) > 1 else unit[0], ignored_params=ignored)
        fully_shard(model, ignored_params=ignored)
        self.sharded = True
        return model

    def _options(self, **kw: bool) -> Any:
        from torch.distributed.checkpoint.state_dict import StateDictOptions

        return StateDictOptions(full_state_dict=True, **kw)

    def model_state(self, model: nn.Module) -> dict[str, Any]:
        if not self.sharded:
            return model.state_dict()
        from torch.distributed.checkpoint.state_dict import get_model_state_dict

        # gathered whole on every rank (the caller keeps rank 0's), with the unsharded momentum weights and buffers
        return get_model_state_dict(model, options=self._options(cpu_offload=False))

    def load_model_state(self, model: nn.Module, state: dict[str, Any]) -> None:
        if not self.sharded:
            return model.load_state_dict(state)
        from torch.distributed.tensor import DTensor, distribute_tensor

        # torch's set_model_state_dict trips over parameters shared under two names (encoder/decoder ties);
        # every rank holds the whole state (read from the checkpoint file), so each keeps its own shard of it
        own = model.state_dict()
        local = {}
        for key, value in state.items():
            target = own.get(key)
            if isinstance(target, DTensor):
                value = distribute_tensor(
                    value.to(target.dtype), target.device_mesh, target.placements, src_data_rank=None
                )
            local[key] = value
        model.load_state_dict(local)

    def optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        if not self.sharded:
            return optimizer.state_dict()
        from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

        return get_optimizer_state_dict(model, optimizer, options=self._options(cpu_offload=False))

    def load_optimizer_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
        if not self.sharded:
            return optimizer.load_state_dict(state)
        from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

        set_optimizer_state_dict(model, optimizer, state, options=self._options())

    def eval_model(self, model: nn.Module) -> nn.Module:
        if not self.sharded:
            return model
        self.replica.load_state_dict(self.model_state(model))
        return self.replica


def build_strategy(name: str, world_size: int, device: torch.device, find_unused_parameters: bool = False) -> Strategy:
    """The :class:`Strategy` for ``run.strategy`` (raises naming the key for an unknown one)."""
    classes = {"ddp": Strategy, "fsdp": FSDPStrategy}
    if name not in classes:
        raise ConfigError(f"run.strategy={name!r} is not one of {', '.join(STRATEGIES)}.")
    return classes[name](world_size, device, find_unused_parameters)

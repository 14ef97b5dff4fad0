"""A toy model, dataset builder and task for runner tests (registered by :func:`register`; see toy_plugin)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from omegaconf import DictConfig
from torch import nn
from torch.utils.data import Dataset

from vlkit.common.config import Config, RunConfig, to_dataclass
from vlkit.common.registry import registry
from vlkit.tasks.base_task import BaseTask
from vlkit.tasks.context import EvalContext, StepContext

MODEL, BUILDER, TASK = "_toy_runner_mlp", "_toy_runner_data", "_toy_runner_task"


@dataclass
class ToyModelConfig:
    arch: str = MODEL
    model_type: str | None = None
    in_dim: int = 4
    hidden: int = 8
    dropout: float = 0.2


@dataclass
class ToyOutput:
    loss: torch.Tensor
    loss_mse: torch.Tensor
    loss_l1: torch.Tensor

    def losses(self) -> dict[str, float]:
        return {"loss_mse": float(self.loss_mse.detach()), "loss_l1": float(self.loss_l1.detach())}


class ToyModel(nn.Module):
    """MLP with dropout (so RNG matters), a LayerNorm, a frozen parameter and a buffer."""

    CONFIG_CLASS = ToyModelConfig

    def __init__(self, cfg: ToyModelConfig) -> None:
        super().__init__()
        self.visual_encoder = nn.Linear(cfg.in_dim, cfg.hidden)
        self.norm = nn.LayerNorm(cfg.hidden)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, 1)
        self.frozen_scale = nn.Parameter(torch.tensor([1.5]), requires_grad=False)
        self.temp = nn.Parameter(torch.ones([]))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))
        self.grad_checkpointing = False

    @classmethod
    def from_config(cls, cfg: DictConfig) -> ToyModel:
        return cls(to_dataclass(cfg, ToyModelConfig))

    def no_weight_decay(self) -> set[str]:
        return {"temp"}

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout(torch.relu(self.norm(self.visual_encoder(x))))
        return self.head(h).squeeze(-1) * self.frozen_scale * self.temp

    def forward(self, samples: dict) -> ToyOutput:
        self.calls += 1
        err = self.predict(samples["x"]).float() - samples["y"]
        mse, l1 = (err**2).mean(), err.abs().mean()
        return ToyOutput(loss=mse + 0.1 * l1, loss_mse=mse, loss_l1=l1)


class ToyDataset(Dataset):
    """Fixed random regression data; training samples get augmentation noise from the global RNG."""

    def __init__(self, n: int, dim: int, augment: bool, skip_every: int = 0) -> None:
        gen = torch.Generator().manual_seed(1234 + n)
        self.x = torch.randn(n, dim, generator=gen)
        self.y = self.x.sum(-1) + 0.1 * torch.randn(n, generator=gen)
        self.augment = augment
        self.skip_every = skip_every

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict:
        x = self.x[index] + (0.05 * torch.randn_like(self.x[index]) if self.augment else 0)
        skipped = int(self.skip_every > 0 and index % self.skip_every == 0)
        return {"x": x, "y": self.y[index], "index": index, "skipped": skipped}

    def collater(self, samples: list[dict]) -> dict:
        flagged = sum(s["skipped"] for s in samples)
        return {
            "x": torch.stack([s["x"] for s in samples]),
            "y": torch.stack([s["y"] for s in samples]),
            "index": torch.tensor([s["index"] for s in samples]),
            "num_skipped": flagged,
            **({"skipped": {"toy flag": {"toy-shard": flagged}}} if flagged else {}),
        }


@dataclass
class ToyDataConfig:
    n_train: int = 24
    n_val: int = 7
    dim: int = 4
    skip_every: int = 5


class ToyBuilder:
    CONFIG_CLASS = ToyDataConfig

    def __init__(self, cfg: DictConfig, on_bad_sample: str = "auto") -> None:
        self.cfg = to_dataclass(cfg, ToyDataConfig)

    def build_datasets(self) -> dict[str, Dataset]:
        c = self.cfg
        return {
            "train": ToyDataset(c.n_train, c.dim, augment=True, skip_every=c.skip_every),
            "val": ToyDataset(c.n_val, c.dim, augment=False),
            "test": ToyDataset(c.n_val + 2, c.dim, augment=False),
        }


@dataclass
class ToyRunConfig(RunConfig):
    toy_step_sleep: float = 0.0


class ToyTask(BaseTask):
    """Regression: per-sample squared error; ``agg_metrics`` is minus the mean squared error."""

    RUN_CONFIG = ToyRunConfig

    def __init__(self, cfg: Config | None = None) -> None:
        super().__init__(cfg)
        self.progress_seen: list[tuple[int, int, int]] = []

    def train_step(self, model: nn.Module, samples: dict, ctx: StepContext | None = None) -> ToyOutput:
        assert not {"epoch", "iters", "num_iters_per_epoch"} & set(samples)  # the batch carries data only
        self.progress_seen.append((ctx.epoch, ctx.step_in_epoch, ctx.steps_per_epoch))
        if self.run_cfg is not None and self.run_cfg.toy_step_sleep > 0:
            time.sleep(self.run_cfg.toy_step_sleep)  # slows the subprocess down enough to kill it mid-epoch
        return model(samples)

    def valid_step(self, model: nn.Module, samples: dict, ctx: EvalContext) -> list[dict]:
        pred = model.predict(samples["x"]).float()
        sq = (pred - samples["y"]) ** 2
        return [{"index": int(i), "sq_err": float(e)} for i, e in zip(samples["index"], sq)]

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        metrics = super().after_evaluation(results, ctx)
        return {"mse": metrics["sq_err"], "agg_metrics": -metrics["sq_err"], "n": len(results)}


def register() -> None:
    """Add the toy components to the registry (idempotent)."""
    registry.register_model(MODEL)(ToyModel)
    registry.register_builder(BUILDER)(ToyBuilder)
    registry.register_task(TASK)(ToyTask)


def unregister() -> None:
    """Remove them again, so registry-wide tests elsewhere never see them."""
    registry.of("model").unregister(MODEL)
    registry.of("builder").unregister(BUILDER)
    registry.of("task").unregister(TASK)

"""The runner's small state objects: the resumable training position and the loss window for logging."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class TrainState:
    """Where training is; saved in every checkpoint so a resumed run continues at the same batch."""

    epoch: int = 0  # current (inner) epoch
    batch_in_epoch: int = 0  # micro-batches done in this epoch
    global_step: int = 0  # optimiser updates done
    data_epoch: int = 0  # pass over the training data the next batch comes from
    data_batch: int = 0  # batches of that pass already consumed
    best_metric: float | None = None
    best_epoch: int = -1
    epoch_skipped: int = 0  # bad samples skipped so far this epoch
    epoch_skips: dict[str, dict[str, int]] = field(default_factory=dict)  # reason -> shard/split -> events
    epoch_loss_sum: float = 0.0
    epoch_loss_count: int = 0


class LossWindow:
    """Loss sums kept on the device (no host sync per micro-batch) and the loss terms of logged groups."""

    def __init__(self) -> None:
        self.loss: torch.Tensor | float = 0.0
        self.batches = 0
        self.epoch_loss: torch.Tensor | float = 0.0
        self.epoch_batches = 0
        self.terms: dict[str, float] = {}
        self.term_batches = 0
        self.t0 = time.perf_counter()

    def add(self, output: Any, with_terms: bool) -> None:
        loss = output.loss.detach().float()
        self.loss = self.loss + loss
        self.epoch_loss = self.epoch_loss + loss
        self.batches += 1
        self.epoch_batches += 1
        if with_terms and hasattr(output, "losses"):
            for key, value in output.losses().items():
                self.terms[key] = self.terms.get(key, 0.0) + float(value)
            self.term_batches += 1

    def take_log(self) -> tuple[float, int, dict[str, float]]:
        """(seconds, micro-batches, mean loss and terms) since the last call."""
        means = {"loss": float(self.loss) / max(1, self.batches)}
        means.update({k: v / max(1, self.term_batches) for k, v in self.terms.items()})
        out = (time.perf_counter() - self.t0, self.batches, means)
        self.loss, self.batches, self.terms, self.term_batches, self.t0 = 0.0, 0, {}, 0, time.perf_counter()
        return out

    def take_epoch(self) -> tuple[float, int]:
        out = (float(self.epoch_loss), self.epoch_batches)
        self.epoch_loss, self.epoch_batches = 0.0, 0
        return out

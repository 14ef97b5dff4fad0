"""The epoch-based runner: a thin loop that delegates to the task and to small helper objects.

Per optimiser update the loop calls ``task.train_step(model, samples, ctx)`` on ``accum_grad_iters``
micro-batches (``ctx``: a :class:`~vlkit.tasks.context.StepContext`, the loop's position; the batch carries
data only); mixed precision and clipping live in :class:`MixedPrecision`, the LR in a registered
:class:`LRSchedule`, data order in :class:`TrainBatches`, files in :class:`CheckpointManager` and
:class:`RunLogger`. Subclasses change what an "epoch" is (see :mod:`vlkit.runners.runner_iter`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset

from vlkit.common.config import Config, ConfigError
from vlkit.common.cpu_allocator import configure_cpu_allocator
from vlkit.common.determinism import configure_determinism
from vlkit.common.dist import (
    all_gather_object,
    all_reduce_sum,
    barrier,
    get_rank,
    get_world_size,
    is_main_process,
    resolve_device,
)
from vlkit.common.registry import registry
from vlkit.data.bad_samples import format_skip_events, merge_skip_events
from vlkit.runners.amp import MixedPrecision, maybe_no_sync
from vlkit.runners.checkpointing import (
    CheckpointManager,
    capture_rng_state,
    latest_job_checkpoint,
    load_checkpoint_file,
    restore_rng_state,
)
from vlkit.runners.evaluation import Metrics, SplitEvaluator, best_candidate, is_better
from vlkit.runners.logging import RunLogger, format_summary, progress, progress_enabled
from vlkit.runners.optim import build_optimizer
from vlkit.runners.sampling import TrainBatches, collate_fn_of, move_to_device
from vlkit.runners.strategy import build_strategy
from vlkit.runners.train_state import LossWindow, TrainState
from vlkit.tasks.context import StepContext

if TYPE_CHECKING:
    from vlkit.tasks.base_task import BaseTask

logger = logging.getLogger(__name__)


@registry.register_runner("runner_base")
class RunnerBase:
    """Trains for ``run.max_epoch`` passes over the training data, evaluating after each.

    Args:
        cfg: The merged config.
        task: The task (builds steps and metrics).
        model: The unwrapped model (moved to the device here).
        datasets: dataset name -> split -> dataset.
        job_dir: The job's output directory.
    """

    def __init__(
        self, cfg: Config, task: BaseTask, model: nn.Module, datasets: dict[str, dict[str, Dataset]], job_dir: Path
    ) -> None:
        self.cfg = cfg
        self.run_cfg = run = cfg.run_cfg
        if run.best_metric_mode not in ("max", "min"):
            raise ConfigError(f"run.best_metric_mode={run.best_metric_mode!r} must be 'max' or 'min'.")
        self.task = task
        self.datasets = datasets
        self.job_dir = Path(job_dir)
        self.rank, self.world_size = get_rank(), get_world_size()
        self.device = resolve_device(run.device)
        configure_determinism(run.deterministic, self.device)
        configure_cpu_allocator(run.cpu_allocator, device=self.device)
        if run.grad_checkpointing:
            if not hasattr(model, "set_grad_checkpointing"):
                raise ConfigError(
                    f"run.grad_checkpointing=true but {type(model).__name__} has no set_grad_checkpointing."
                )
            model.set_grad_checkpointing(True)
        self.model = model.to(self.device)
        self.train_model: nn.Module = self.model  # DDP-wrapped (or FSDP-sharded) when training on several ranks
        self.strategy = build_strategy(run.strategy, self.world_size, self.device, run.find_unused_parameters)
        self.amp = MixedPrecision(run.amp, self.device)
        self.log = RunLogger(self.job_dir, run.tensorboard)
        self.ckpt = CheckpointManager(self.job_dir, run.keep_last_n)
        self.state = TrainState()
        result_dir = self.job_dir / "result"
        self.evaluator = SplitEvaluator(task, datasets, run, self.log, self.amp.autocast, self.device, result_dir)
        self.optimizer: torch.optim.Optimizer | None = None
        self.lr_sched: Any = None
        self.train_batches: TrainBatches | None = None

    def _wrap_ddp(self, model: nn.Module) -> nn.Module:
        """The module to train: ``run.strategy`` (DDP replicas or FSDP shards) on several ranks."""
        return self.strategy.wrap(model)

    # ----- what an epoch is (overridden by the iteration-based runner) -----
    @property
    def max_epochs(self) -> int:
        return self.run_cfg.max_epoch

    def batches_in_epoch(self, epoch: int) -> int:
        """Micro-batches in ``epoch``: a full pass, or ``max_train_steps_per_epoch`` updates' worth."""
        n = len(self.train_batches)
        if self.run_cfg.max_train_steps_per_epoch > 0:
            n = min(n, self.run_cfg.max_train_steps_per_epoch * self.run_cfg.accum_grad_iters)
        return n

    def on_epoch_end(self) -> None:
        """Move the data position to the next epoch's start (epochs are whole passes here)."""
        self.state.data_epoch, self.state.data_batch = self.state.epoch + 1, 0

    # ----- setup -----
    def _train_dataset(self) -> tuple[Dataset, Any]:
        parts = [splits[s] for splits in self.datasets.values() for s in self.run_cfg.train_splits if s in splits]
        if not parts:
            raise ConfigError(
                f"No dataset has a split named in run.train_splits={list(self.run_cfg.train_splits)}; "
                f"available: { {n: sorted(s) for n, s in self.datasets.items()} }."
            )
        return (parts[0] if len(parts) == 1 else ConcatDataset(parts)), collate_fn_of(parts[0])

    def _setup_training(self) -> None:
        run = self.run_cfg
        dataset, collate = self._train_dataset()
        self.train_batches = TrainBatches(
            dataset, run.batch_size_train, run.seed, run.num_workers, self.rank, self.world_size, collate
        )
        self.train_model = self._wrap_ddp(self.model)
        self.optimizer = build_optimizer(self.model, run, self.world_size)
        sched_cls = registry.get_lr_scheduler_class(run.lr_sched)
        self.lr_sched = sched_cls.from_config(self.optimizer, run, self.max_epochs)

    # ----- checkpoints -----
    def _checkpoint_state(self) -> dict[str, Any]:
        rng = all_gather_object(capture_rng_state())  # every rank's RNG, so each resumes its own dropout stream
        return {
            "model": self.strategy.model_state(self.model),
            "optimizer": self.strategy.optimizer_state(self.model, self.optimizer),
            "lr_sched": self.lr_sched.state_dict(),
            "scaler": self.amp.state_dict(),
            "rng": rng,
            "train_state": asdict(self.state),
            "data_order": self._data_order(),
        }

    def _data_order(self) -> dict[str, int]:
        """What the saved data position means: resuming with other values changes the sample order."""
        run = self.run_cfg
        return {"seed": run.seed, "batch_size_train": run.batch_size_train, "world_size": self.world_size}

    def save_checkpoint(self) -> None:
        """Collective: gathers RNG states, the main rank writes, everyone waits."""
        state = self._checkpoint_state()
        if is_main_process():
            self.ckpt.save(state, self.state.global_step)
        barrier()

    def _resume_path(self) -> Path | None:
        spec = self.run_cfg.resume_ckpt_path
        if not spec:
            return None
        if spec == "auto":
            path = self.ckpt.latest()
            if path is None:
                logger.info("run.resume_ckpt_path=auto: no checkpoint in %s, starting from scratch", self.ckpt.dir)
            return path
        path = Path(spec).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"run.resume_ckpt_path={spec!r} does not exist.")
        return path

    def resume(self) -> None:
        """Restore model, optimiser, schedule, scaler, position and (last) this rank's RNG state."""
        path = self._resume_path()
        if path is None:
            return
        ckpt = load_checkpoint_file(path)
        self.strategy.load_model_state(self.model, ckpt["model"])
        self.strategy.load_optimizer_state(self.model, self.optimizer, ckpt["optimizer"])
        self.lr_sched.load_state_dict(ckpt["lr_sched"])
        self.amp.load_state_dict(ckpt["scaler"])
        self.state = TrainState(**ckpt["train_state"])
        if ckpt.get("data_order") != self._data_order():
            logger.warning(
                "resuming with a different data order (%s, checkpoint: %s): the rest of the run is not the one the "
                "checkpoint was heading for",
                self._data_order(),
                ckpt.get("data_order"),
            )
        rng = ckpt["rng"]
        restore_rng_state(rng[self.rank % len(rng)])
        logger.info("resumed from %s at epoch %d, step %d", path, self.state.epoch, self.state.global_step)

    # ----- training -----
    def _stream(self, n: int) -> Iterator[dict]:
        """``n`` micro-batches from the saved data position, crossing data passes when needed."""
        produced = 0
        while produced < n:
            start = self.state.data_batch
            for batch in self.train_batches.epoch(self.state.data_epoch, start):
                self.state.data_batch += 1
                yield batch
                produced += 1
                if produced == n:
                    return
            if start == 0 and self.state.data_batch == 0:
                raise RuntimeError("The training dataset produced no batch; check its size and run.batch_size_train.")
            self.state.data_epoch, self.state.data_batch = self.state.data_epoch + 1, 0

    def train_epoch(self) -> None:
        """Run the rest of the current epoch from ``state.batch_in_epoch``."""
        run, st = self.run_cfg, self.state
        n = self.batches_in_epoch(st.epoch)
        accum = run.accum_grad_iters
        self.train_model.train()
        window = LossWindow()
        batches = progress(self._stream(n - st.batch_in_epoch), n, f"train {st.epoch}", run.progress, st.batch_in_epoch)
        for batch in batches:
            group_start = (st.batch_in_epoch // accum) * accum
            group_size = min(accum, n - group_start)  # the epoch's last group may be short
            last_in_group = st.batch_in_epoch + 1 == group_start + group_size
            will_log = (st.global_step + 1) % max(1, run.log_freq) == 0
            samples = move_to_device(batch, self.device)
            if isinstance(samples, dict):
                st.epoch_skipped += int(samples.get("num_skipped", 0))
                merge_skip_events(st.epoch_skips, samples.get("skipped", {}))
            ctx = StepContext(
                epoch=st.epoch, step_in_epoch=st.batch_in_epoch, steps_per_epoch=n, global_step=st.global_step
            )
            if last_in_group:  # set before the backward pass, which updates with run.optimizer_in_backward
                lr = self.lr_sched.step(st.epoch, st.global_step)
            with maybe_no_sync(self.train_model, not last_in_group):
                with self.amp.autocast():
                    output = self.task.train_step(self.train_model, samples, ctx)
                self.amp.backward(output.loss / group_size)
            window.add(output, with_terms=will_log)
            st.batch_in_epoch += 1
            if not last_in_group:
                continue
            grad_norm = self.amp.step(self.optimizer, self._trainable, run.grad_clip)
            st.global_step += 1
            if will_log:
                self._log_train(window, lr, grad_norm)
            if run.save_every_n_steps > 0 and st.global_step % run.save_every_n_steps == 0 and st.batch_in_epoch < n:
                self._flush_epoch_loss(window)  # the epoch's mean loss survives a resume
                self.save_checkpoint()
        self._flush_epoch_loss(window)

    @property
    def _trainable(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def _flush_epoch_loss(self, window: LossWindow) -> None:
        total, count = window.take_epoch()
        self.state.epoch_loss_sum += total
        self.state.epoch_loss_count += count

    def _log_train(self, window: LossWindow, lr: float, grad_norm: float) -> None:
        run = self.run_cfg
        elapsed, batches, means = window.take_log()
        means = self._mean_over_ranks(means)
        extra = {"grad_norm": grad_norm} if run.grad_clip > 0 else {}
        samples_per_s = batches * run.batch_size_train * self.world_size / max(elapsed, 1e-9)
        self.log.log(
            "train",
            self.state.global_step,
            epoch=self.state.epoch,
            lr=lr,
            **means,
            samples_per_s=samples_per_s,
            **extra,
        )
        if is_main_process() and not progress_enabled(run.progress):  # batch jobs: a line in the job's stdout log
            terms = " ".join(f"{k}={v:.4f}" for k, v in means.items())
            logger.info(
                "epoch %d step %d: %s lr=%.3g %.1f samples/s",
                self.state.epoch,
                self.state.global_step,
                terms,
                lr,
                samples_per_s,
            )

    def _mean_over_ranks(self, values: dict[str, float]) -> dict[str, float]:
        keys = sorted(values)
        t = all_reduce_sum(torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self._comm_device))
        return {k: float(v) / self.world_size for k, v in zip(keys, t.tolist())}

    @property
    def _comm_device(self) -> torch.device:
        # NCCL only reduces CUDA tensors; gloo takes CPU ones.
        return self.device if self.device.type == "cuda" else torch.device("cpu")

    def end_epoch(self, duration_s: float) -> Metrics:
        """Evaluate, keep the best checkpoint, log the epoch summary and save the epoch checkpoint."""
        run, st = self.run_cfg, self.state
        sums = all_reduce_sum(
            torch.tensor(
                [st.epoch_skipped, st.epoch_loss_sum, st.epoch_loss_count],
                dtype=torch.float64,
                device=self._comm_device,
            )
        ).tolist()
        skips: dict[str, dict[str, int]] = {}
        for events in all_gather_object(st.epoch_skips):
            merge_skip_events(skips, events)
        if skips and is_main_process():
            logger.warning("epoch %d: %d samples skipped: %s", st.epoch, int(sums[0]), format_skip_events(skips))
        metrics = self.evaluate_splits(list(run.valid_splits), tag=f"_epoch{st.epoch}") if run.valid_splits else {}
        value = best_candidate(metrics, run.best_metric)
        if value is not None and is_better(value, st.best_metric, run.best_metric_mode):
            st.best_metric, st.best_epoch = value, st.epoch
            weights = self.strategy.model_state(self.model)  # collective under fsdp
            if is_main_process():
                self.ckpt.save_best({"model": weights, "epoch": st.epoch, run.best_metric: value})
        self.log.log(
            "epoch",
            st.global_step,
            epoch=st.epoch,
            train_loss=sums[1] / max(1.0, sums[2]),
            num_skipped=int(sums[0]),
            skipped=skips,
            duration_s=duration_s,
            metrics=metrics,
        )
        self.on_epoch_end()
        st.epoch += 1
        st.batch_in_epoch, st.epoch_skipped, st.epoch_loss_sum, st.epoch_loss_count = 0, 0, 0.0, 0
        st.epoch_skips = {}
        if st.epoch % max(1, run.save_freq) == 0 or st.epoch >= self.max_epochs:
            self.save_checkpoint()
        return metrics

    def evaluate_splits(self, splits: list[str], tag: str = "") -> Metrics:
        """Evaluate ``splits`` with the unwrapped model (see :class:`SplitEvaluator`)."""
        model = self.strategy.eval_model(self.model)  # whole on every rank (fsdp: gathered from the shards)
        return self.evaluator(model, splits, self.state.global_step, self.state.epoch, tag)

    def train(self) -> dict[str, Any]:
        """Train (resuming if asked), test with the best weights, log and return the summary."""
        self._setup_training()
        self.resume()
        while self.state.epoch < self.max_epochs:
            start = time.perf_counter()
            self.train_epoch()
            self.end_epoch(time.perf_counter() - start)
        test: Metrics = {}
        if self.run_cfg.test_splits:
            if self.ckpt.best_path.is_file():
                self.strategy.load_model_state(self.model, load_checkpoint_file(self.ckpt.best_path)["model"])
            test = self.evaluate_splits(list(self.run_cfg.test_splits), tag="_best")
        return self._finish(test)

    def evaluate(self) -> dict[str, Any]:
        """Evaluate only (``vlkit evaluate``): valid and test splits, optionally with checkpoint weights."""
        splits = list(self.run_cfg.valid_splits) + list(self.run_cfg.test_splits)
        if not splits:
            raise ConfigError("Nothing to evaluate: set run.test_splits (and/or run.valid_splits), e.g. ['test'].")
        spec = self.run_cfg.resume_ckpt_path
        path = Path(spec).expanduser() if spec and spec != "auto" else None
        if spec == "auto":
            path = self.ckpt.latest() or latest_job_checkpoint(self.run_cfg.output_dir)
            if path is None:
                raise FileNotFoundError(f"run.resume_ckpt_path=auto: no checkpoint under {self.run_cfg.output_dir}.")
        if path is not None:
            self.model.load_state_dict(load_checkpoint_file(path)["model"])
            logger.info("evaluating weights from %s", path)
        return self._finish(self.evaluate_splits(splits))

    def _finish(self, metrics: Metrics) -> dict[str, Any]:
        st = self.state
        summary = {
            "job_dir": str(self.job_dir),
            "best_metric": {self.run_cfg.best_metric: st.best_metric} if st.best_metric is not None else None,
            "best_epoch": st.best_epoch if st.best_metric is not None else None,
            "best_checkpoint": str(self.ckpt.best_path) if self.ckpt.best_path.is_file() else None,
            "last_checkpoint": str(p) if (p := self.ckpt.latest()) else None,
            "metrics": metrics,
            "global_step": st.global_step,
        }
        self.log.log("summary", st.global_step, **summary)
        self.log.close()
        if is_main_process():
            print(format_summary(summary), flush=True)
        return summary

"""``vlkit run --jobs N``: independent pipeline stages side by side, each in its own process.

A stage depends on the stages its options refer to (``${stages.<name>...}``). The scheduler starts a stage
as soon as every stage it depends on has finished, at most ``jobs`` at a time, each process with its share
of the CPU cores (``OMP_NUM_THREADS``: cores // jobs), its log in ``<output_dir>/logs/<stage>.log``. A stage
that runs alone and that every stage still to run waits for (a world, a warm start, the pre-training a
chain starts from) gets all the cores: nothing can start beside it, so nothing is oversubscribed (two
threads and another busy process on two cores ran the tiny models 7x slower). A stage left running alone
that way later (its neighbour finished, and every stage still to run waits for it) is sent SIGUSR1 and
takes all the cores from its next operation on (``torch.set_num_threads``). Stages already done with the
same inputs are not started at all. Each process is
``vlkit run <pipeline> --only <stage>``: it finds the earlier stages done (their ``STAGE.json``) and runs
its own, so a killed run continues like a sequential one. A failed stage cancels the stages that depend on
it; the others still run, and the failures are raised together at the end.

Measured on 2 CPU cores: two single-threaded processes get through 1.1-1.4x the training steps of one
two-threaded process; on a GPU it fills the card with small models.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from vlkit.pipelines.pipeline import _REF, Pipeline, PipelineConfig, pipeline_to_yaml

logger = logging.getLogger(__name__)

Starter = Callable[[str, int], "subprocess.Popen | None"]  # (stage, share of the jobs) -> process; None: done
THREADS_ENV = "VLKIT_STAGE_MAX_THREADS"  # what a stage process may grow to on SIGUSR1


def accept_more_threads() -> None:
    """In a stage process: on SIGUSR1, use ``$VLKIT_STAGE_MAX_THREADS`` intra-op threads (no-op without it)."""
    most = int(os.environ.get(THREADS_ENV, "0") or 0)
    if most < 1 or not hasattr(signal, "SIGUSR1"):
        return

    def grow(signum: int, frame: object) -> None:
        import torch

        torch.set_num_threads(most)

    signal.signal(signal.SIGUSR1, grow)


def dependencies(pipeline: Pipeline) -> dict[str, set[str]]:
    """Stage name -> the earlier stages its options (and the pipeline's overrides for it) refer to."""
    out: dict[str, set[str]] = {}
    for stage in pipeline.cfg.stages:
        raw = [*stage.options, *(kv for t, kv in pipeline.overrides if t in ("*", stage.kind, stage.name))]
        out[stage.name] = {m.group(2) for opt in raw for m in _REF.finditer(opt) if m.group(1) == "stages"}
    return out


def _dependents(deps: dict[str, set[str]], name: str) -> set[str]:
    """The stages that need ``name``, directly or through others."""
    out, changed = set(), True
    while changed:
        changed = False
        for other, needs in deps.items():
            if other not in out and needs & (out | {name}):
                out.add(other)
                changed = True
    return out


def chain_lengths(deps: dict[str, set[str]]) -> dict[str, int]:
    """Stage -> stages on the longest chain that starts with it (1 for a stage nothing waits on)."""
    memo: dict[str, int] = {}

    def length(name: str) -> int:
        if name not in memo:
            memo[name] = 1 + max((length(o) for o, needs in deps.items() if name in needs), default=0)
        return memo[name]

    return {name: length(name) for name in deps}


def schedule(
    deps: dict[str, set[str]],
    jobs: int,
    start: Starter,
    poll_seconds: float = 0.5,
    promote: Callable[[str, subprocess.Popen], None] | None = None,
) -> list[str]:
    """Run every stage of ``deps`` once its dependencies have succeeded, ``jobs`` at a time.

    Of the stages ready to start, those heading the longest chains of stages go first (the critical path
    decides when the pipeline ends), in ``deps`` order among equals.

    ``start(name, share)`` starts a stage with ``share`` of the ``jobs`` slots: all of them when nothing
    runs and every other pending stage depends on it, else 1; it returns None for a stage already done.
    ``promote(name, process)`` is called once for a stage started with 1 slot that is later left running
    alone with every pending stage depending on it. Returns the stages in the order they were started.
    Raises RuntimeError listing failed and cancelled stages.
    """
    chain = chain_lengths(deps)
    pending = sorted(deps, key=lambda n: -chain[n])  # stable: list order among equal chains
    done: set[str] = set()
    running: dict[str, subprocess.Popen] = {}
    started, failed = [], []
    shared: set[str] = set()  # running with 1 slot of several
    while pending or running:
        for name in [n for n in pending if deps[n] <= done]:
            if len(running) >= jobs:
                break
            pending.remove(name)
            sole_gate = not running and set(pending) <= _dependents(deps, name)
            proc = start(name, jobs if sole_gate else 1)
            if proc is None:
                done.add(name)
                continue
            started.append(name)
            running[name] = proc
            if not sole_gate and jobs > 1:
                shared.add(name)
        time.sleep(poll_seconds)
        for name, proc in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            if proc.returncode == 0:
                done.add(name)
                continue
            failed.append(f"{name} (exit {proc.returncode})")
            blocked, changed = {name}, True
            while changed:  # everything downstream of the failed stage
                changed = False
                for other in list(pending):
                    if deps[other] & blocked:
                        pending.remove(other)
                        blocked.add(other)
                        failed.append(f"{other} (not run: depends on {name})")
                        changed = True
        if promote is not None and len(running) == 1:
            (alone,) = running
            if alone in shared and set(pending) <= _dependents(deps, alone):
                shared.discard(alone)
                promote(alone, running[alone])
        if not running and pending and not any(deps[n] <= done for n in pending):
            raise RuntimeError(f"pipeline stages wait on stages that never run: {', '.join(pending)}")
    if failed:
        raise RuntimeError(f"pipeline stages failed: {', '.join(failed)}")
    return started


def run_parallel(pipeline: Pipeline, jobs: int, argv_extra: Sequence[str] = ()) -> list[str]:
    """Run ``pipeline``'s unfinished stages in processes, ``jobs`` at a time; see the module docstring."""
    out = pipeline.out_dir
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    spec = out / "pipeline.yaml"  # what the stage processes load: this very pipeline, whatever built it
    spec.write_text(pipeline_to_yaml(pipeline.cfg), encoding="utf-8")
    cores = os.cpu_count() or 1
    options = [f"{t}:{kv}" for t, kv in pipeline.overrides]

    def start(name: str, share: int) -> subprocess.Popen | None:
        if pipeline.finished(name):
            logger.info("stage %s: already done, skipping", name)
            return None
        cmd = [sys.executable, "-m", "vlkit", "run", str(spec), "--only", name, *argv_extra]
        if options:
            cmd += ["--options", *options]
        threads = max(1, cores * share // jobs)
        logger.info("starting stage %s, %d thread(s) (log: %s)", name, threads, logs / f"{name}.log")
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), THREADS_ENV: str(cores)}
        with open(logs / f"{name}.log", "w", encoding="utf-8") as fh:  # the child keeps its own handle
            return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)

    def promote(name: str, proc: subprocess.Popen) -> None:
        if hasattr(signal, "SIGUSR1") and proc.poll() is None:
            logger.info("stage %s runs alone now: %d thread(s)", name, cores)
            proc.send_signal(signal.SIGUSR1)

    return schedule(dependencies(pipeline), jobs, start, promote=promote)


def run_pipeline(cfg: PipelineConfig, options: Sequence[str], jobs: int = 1) -> dict[str, dict]:
    """Run ``cfg`` (``jobs`` > 1: in parallel processes first) and return every stage's result."""
    pipeline = Pipeline(cfg, options)
    if jobs > 1:
        run_parallel(pipeline, jobs)
    return pipeline.run()


__all__ = ["accept_more_threads", "dependencies", "run_parallel", "run_pipeline", "schedule"]

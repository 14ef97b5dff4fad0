"""``vlkit run --jobs``: dependency-aware stages in parallel processes, and ``--only``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vlkit.cli import run
from vlkit.pipelines.parallel import chain_lengths, dependencies, schedule
from vlkit.pipelines.pipeline import Pipeline, load_pipeline

WORLD = (
    "world: {{num_images: 10, num_web_images: 4, num_videos: 1, tasks: [coco, web], image_size: 32, "
    "seed: {seed}, progress: false}}\n"
)
PIPELINE = """
pipeline:
  name: worlds
  output_dir: {out}
  stages:
    - {{name: a, kind: synth, cfg: {a}}}
    - {{name: b, kind: synth, cfg: {b}}}
    - {{name: c, kind: synth, cfg: {a}, options: ["world.seed=${{stages.b.spec.seed}}"]}}
    - {{name: d, kind: synth, cfg: {b}, options: ["world.num_web_images=${{stages.a.spec.num_web_images}}"]}}
"""


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    (tmp_path / "a.yaml").write_text(WORLD.format(seed=1))
    (tmp_path / "b.yaml").write_text(WORLD.format(seed=2))
    path = tmp_path / "pipe.yaml"
    path.write_text(PIPELINE.format(out=tmp_path / "out", a=tmp_path / "a.yaml", b=tmp_path / "b.yaml"))
    return path


def test_dependencies_come_from_stage_references(pipeline_file: Path) -> None:
    deps = dependencies(Pipeline(load_pipeline(pipeline_file), ["d:world.seed=${stages.c.spec.seed}"]))
    assert deps == {"a": set(), "b": set(), "c": {"b"}, "d": {"a", "c"}}


class FakeProc:
    def __init__(self, rc: int, delay: float) -> None:
        self.rc, self.until = rc, time.monotonic() + delay

    def poll(self) -> int | None:
        return self.rc if time.monotonic() >= self.until else None

    @property
    def returncode(self) -> int:
        return self.rc


def test_schedule_order_slots_and_failure_cancels_dependents() -> None:
    deps = {"a": set(), "b": set(), "c": {"a"}, "d": {"c"}, "e": {"b"}}
    live: list[str] = []
    peak = []

    def start(name: str) -> FakeProc:
        live.append(name)
        peak.append(len([n for n in live if n not in finished]))
        return FakeProc(1 if name == "c" else 0, 0.02)

    finished: set[str] = set()
    with pytest.raises(RuntimeError) as err:
        schedule(deps, 2, lambda n, share: _track(start(n), n, finished), poll_seconds=0.005)
    assert "c (exit 1)" in str(err.value) and "d (not run: depends on c)" in str(err.value)
    assert live[:2] == ["a", "b"] and "e" in live and "d" not in live
    assert max(peak) <= 2


def test_stages_heading_the_longest_chains_start_first() -> None:
    # "leaf" is listed first but nothing waits on it; "pre" heads a three-stage chain (the critical path).
    deps = {"leaf": set(), "other": set(), "pre": set(), "fine": {"pre"}, "eval": {"fine"}, "x": {"other"}}
    assert chain_lengths(deps) == {"leaf": 1, "other": 2, "pre": 3, "fine": 2, "eval": 1, "x": 1}
    order = schedule(deps, 1, lambda n, share: FakeProc(0, 0.0), poll_seconds=0.001)
    assert order[0] == "pre" and order.index("other") < order.index("leaf")


def test_a_stage_every_other_waits_for_gets_all_slots_and_done_stages_start_nothing() -> None:
    # a chain with a fork: w -> p -> (x, y) -> z; "done" is finished already
    deps = {"done": set(), "w": {"done"}, "p": {"w"}, "x": {"p"}, "y": {"p"}, "z": {"x", "y"}}
    shares: dict[str, int] = {}

    def start(name: str, share: int) -> FakeProc | None:
        if name == "done":
            return None
        shares[name] = share
        return FakeProc(0, 0.01)

    started = schedule(deps, 2, start, poll_seconds=0.002)
    assert started == ["w", "p", "x", "y", "z"]  # "done" never started
    # w, p and z run alone with nothing able to start beside them; x and y share the cores
    assert shares == {"w": 2, "p": 2, "x": 1, "y": 1, "z": 2}


def test_a_stage_left_alone_that_the_rest_waits_for_is_promoted_once() -> None:
    # a (short) and b (long) start together; once a is done, b runs alone and c waits for b
    deps = {"a": set(), "b": set(), "c": {"b"}}
    delays = {"a": 0.01, "b": 0.08, "c": 0.01}
    promoted: list[str] = []
    schedule(
        deps,
        2,
        lambda name, share: FakeProc(0, delays[name]),
        poll_seconds=0.002,
        promote=lambda name, proc: promoted.append(name),
    )
    assert promoted == ["b"]
    # d does not wait for b: b is not promoted while d could still start beside it
    deps = {"a": set(), "b": set(), "d": {"a"}}
    promoted.clear()
    delays["d"] = 0.01
    schedule(deps, 2, lambda name, share: FakeProc(0, delays[name]), 0.002, lambda n, p: promoted.append(n))
    assert promoted == ["b"]  # after d finished too: then nothing is left to start


def _track(proc: FakeProc, name: str, finished: set[str]) -> FakeProc:
    original = proc.poll

    def poll() -> int | None:
        rc = original()
        if rc is not None:
            finished.add(name)
        return rc

    proc.poll = poll  # type: ignore[method-assign]
    return proc


def test_jobs_runs_stages_in_processes_like_a_sequential_run(pipeline_file: Path, tmp_path: Path) -> None:
    assert run(["run", str(pipeline_file), "--jobs", "2"]) == 0
    out = tmp_path / "out"
    results = {n: json.loads((out / n / "STAGE.json").read_text())["result"] for n in "abcd"}
    assert results["c"]["spec"]["seed"] == 2 and results["d"]["spec"]["num_web_images"] == 4
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["a.log", "b.log", "c.log", "d.log"]
    # a second parallel run finds every stage done and starts no process
    (out / "logs" / "a.log").unlink()
    assert run(["run", str(pipeline_file), "--jobs", "2"]) == 0
    assert not (out / "logs" / "a.log").exists()
    # the same pipeline run sequentially finds every stage done (same fingerprints)
    fingerprints = {n: json.loads((out / n / "STAGE.json").read_text())["fingerprint"] for n in "abcd"}
    pipeline = Pipeline(load_pipeline(pipeline_file))
    pipeline.run()
    assert pipeline.fingerprints == fingerprints


def test_only_runs_one_stage_and_needs_its_upstream(pipeline_file: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "vlkit", "run", str(pipeline_file), "--only", "c"]
    failed = subprocess.run(cmd, capture_output=True, text=True)
    assert failed.returncode != 0 and "needs stage 'b'" in failed.stderr
    assert run(["run", str(pipeline_file), "--only", "b"]) == 0
    assert run(["run", str(pipeline_file), "--only", "c"]) == 0
    out = tmp_path / "out"
    assert (out / "c" / "STAGE.json").is_file() and not (out / "a").exists() and not (out / "d").exists()

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vlkit.common.config import ConfigError
from vlkit.pipelines.pipeline import Pipeline, StageConfig, load_pipeline

PIPELINE = """
pipeline:
  name: toy
  output_dir: {out}
  stages:
    - name: pretrain
      kind: train
      cfg: {cfg}
      options: ["run.max_epoch=2"]
    - name: finetune
      kind: train
      cfg: {cfg}
      options: ["model.pretrained=${{stages.pretrain.checkpoint}}", "run.note=${{pipeline.output_dir}}"]
    - name: filter
      kind: capfilt
      cfg: {cfg}
      options: ["capfilt.filter.checkpoint=${{stages.finetune.checkpoint}}"]
"""


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    stage_cfg = tmp_path / "stage.yaml"
    stage_cfg.write_text("run: {task: x}\n")
    path = tmp_path / "pipe.yaml"
    path.write_text(PIPELINE.format(out=tmp_path / "out", cfg=stage_cfg))
    return path


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def __call__(self, stage: StageConfig, options: list[str], out: Path) -> dict[str, Any]:
        self.calls.append((stage.name, options))
        return {"checkpoint": str(out / "best.pth"), "metrics": {"agg": 1.0}}


def test_stages_chain_and_skip_when_done(pipeline_file: Path, tmp_path: Path) -> None:
    rec = Recorder()
    runners = {"train": rec, "evaluate": rec, "capfilt": rec}
    cfg = load_pipeline(pipeline_file)
    results = Pipeline(cfg, ["train:run.seed=3", "filter:capfilt.seed=1"], runners=runners).run()
    assert [c[0] for c in rec.calls] == ["pretrain", "finetune", "filter"]
    assert rec.calls[0][1] == ["run.max_epoch=2", "run.seed=3"]
    assert rec.calls[1][1][0] == f"model.pretrained={tmp_path / 'out' / 'pretrain' / 'best.pth'}"
    assert rec.calls[1][1][1] == f"run.note={tmp_path / 'out'}"
    assert rec.calls[2][1] == [
        f"capfilt.filter.checkpoint={tmp_path / 'out' / 'finetune' / 'best.pth'}",
        "capfilt.seed=1",
    ]
    assert json.loads((tmp_path / "out" / "filter" / "STAGE.json").read_text())["result"]["metrics"] == {"agg": 1.0}
    assert results["pretrain"]["output_dir"] == str(tmp_path / "out" / "pretrain")

    rec2 = Recorder()
    Pipeline(cfg, ["train:run.seed=3", "filter:capfilt.seed=1"], runners={k: rec2 for k in runners}).run()
    assert rec2.calls == []  # everything done, nothing re-run

    rec3 = Recorder()
    Pipeline(cfg, ["train:run.seed=3", "filter:capfilt.seed=2"], runners={k: rec3 for k in runners}).run()
    assert [c[0] for c in rec3.calls] == ["filter"]  # only the stage whose inputs changed

    # a changed upstream stage re-runs the stages that read its result, though the path they get is the same
    rec4 = Recorder()
    Pipeline(
        cfg, ["train:run.seed=3", "finetune:run.lr=2", "filter:capfilt.seed=2"], runners={k: rec4 for k in runners}
    ).run()
    assert [c[0] for c in rec4.calls] == ["finetune", "filter"]  # pretrain is unchanged and skipped


def test_crash_mid_pipeline_keeps_finished_stages(pipeline_file: Path) -> None:
    rec = Recorder()

    def boom(stage: StageConfig, options: list[str], out: Path) -> dict[str, Any]:
        raise RuntimeError("stage crashed")

    cfg = load_pipeline(pipeline_file)
    with pytest.raises(RuntimeError, match="stage crashed"):
        Pipeline(cfg, runners={"train": rec, "evaluate": rec, "capfilt": boom}).run()
    rec2 = Recorder()
    Pipeline(cfg, runners={"train": rec2, "evaluate": rec2, "capfilt": rec2}).run()
    assert [c[0] for c in rec2.calls] == ["filter"]


def test_bad_references_and_options(pipeline_file: Path, tmp_path: Path) -> None:
    cfg = load_pipeline(pipeline_file)
    cfg.stages[1].options = ["model.pretrained=${stages.filter.checkpoint}"]
    with pytest.raises(ConfigError, match="has not run before it"):
        Pipeline(cfg, runners={k: Recorder() for k in ("train", "evaluate", "capfilt")}).run()
    with pytest.raises(ConfigError, match="no stage or stage kind named 'trian'"):
        Pipeline(cfg, ["trian:run.seed=1"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline:\n  stages:\n    - {name: a, kind: fly, cfg: x.yaml}\n")
    with pytest.raises(ConfigError, match="kind must be one of"):
        load_pipeline(bad)


def test_changed_inputs_start_afresh_and_interrupted_work_resumes(pipeline_file: Path, tmp_path: Path) -> None:
    """A stage must not resume (or reuse) work done with other inputs, but does resume its own interrupted work."""
    seen: list[tuple[str, bool]] = []
    crash = {"finetune"}

    def runner(stage: StageConfig, options: list[str], out: Path) -> dict[str, Any]:
        partial = out / "partial.txt"
        seen.append((stage.name, partial.exists()))
        partial.write_text(" ".join(options))
        if stage.name in crash:
            crash.discard(stage.name)
            raise RuntimeError("killed")
        return {"checkpoint": str(out / "best.pth")}

    cfg = load_pipeline(pipeline_file)
    runners = {"train": runner, "evaluate": runner, "capfilt": runner}
    with pytest.raises(RuntimeError, match="killed"):
        Pipeline(cfg, runners=runners).run()
    Pipeline(cfg, runners=runners).run()
    assert seen == [("pretrain", False), ("finetune", False), ("finetune", True), ("filter", False)]

    seen.clear()
    Pipeline(cfg, ["finetune:run.seed=9"], runners=runners).run()
    assert seen == [("finetune", False), ("filter", False)]  # neither sees the old inputs' work
    out = tmp_path / "out"
    assert "run.seed=9" not in (out / "finetune.replaced-1" / "partial.txt").read_text()  # kept, not deleted
    assert (out / "filter.replaced-1" / "STAGE.json").is_file()
    assert "run.seed=9" in (out / "finetune" / "partial.txt").read_text()

"""Every shapes_ project config trains a few steps and evaluates through the CLI, scored by the real metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from vlkit.cli import run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2] / "projects" / "blip"
TRAIN = sorted((ROOT / "train").glob("shapes_*.yaml"))
EVAL = sorted((ROOT / "eval").glob("shapes_*.yaml"))
SHRINK = [
    "run.max_epoch=1",
    "run.max_train_steps_per_epoch=2",
    "run.max_eval_batches=1",
    "run.batch_size_train=8",
    "run.batch_size_eval=16",
    "run.job_name=job",
    "run.progress=off",
]

# metric key -> inclusive range a real (if barely trained) model must land in
EXPECTED = {
    "captioning": {"CIDEr": (0.0, 10.0), "Bleu_4": (0.0, 1.0), "ROUGE_L": (0.0, 1.0)},
    "retrieval": {"txt_r1": (0.0, 100.0), "img_r10": (0.0, 100.0), "r_mean": (0.0, 100.0)},
    "video_retrieval": {"t2v_r1": (0.0, 100.0), "t2v_medr": (1.0, 1e9)},
    "vqa": {"overall": (0.0, 100.0)},
    "video_qa": {"overall": (0.0, 100.0)},
    "nlvr": {"accuracy": (0.0, 100.0)},
    "dialog": {"mrr": (0.0, 100.0), "r1": (0.0, 100.0), "mean_rank": (1.0, 100.0), "ndcg": (0.0, 1.0)},
}


def _records(job: Path) -> list[dict]:
    return [json.loads(line) for line in (job / "log.jsonl").read_text().splitlines()]


def _task(cfg: Path) -> str:
    return next(line.split(":")[1].strip() for line in cfg.read_text().splitlines() if line.strip().startswith("task:"))


def _check(task: str, metrics: dict[str, dict[str, float]], job: Path) -> None:
    assert metrics, "no evaluation metrics were logged"
    written = {p.stem for p in (job / "result").glob("*.json")}
    for split in metrics:  # each evaluated split wrote its results (name: split + optional epoch tag)
        assert any(name.startswith(split.replace("/", "_")) for name in written), (split, written)
    for split_metrics in metrics.values():
        for key, (lo, hi) in EXPECTED[task].items():
            assert key in split_metrics, (key, split_metrics)
            assert math.isfinite(split_metrics[key]) and lo <= split_metrics[key] <= hi, (key, split_metrics[key])


@pytest.mark.parametrize("cfg", TRAIN, ids=lambda p: p.stem)
def test_train_config_runs_and_evaluates(cfg: Path, tmp_path: Path) -> None:
    code = run(["train", "--cfg-path", str(cfg), "--options", *SHRINK, f"run.output_dir={tmp_path}"])
    assert code == 0
    job = tmp_path / "job"
    records = _records(job)
    epochs = [r for r in records if r.get("type") == "epoch"]
    assert epochs and all(math.isfinite(r["train_loss"]) and r["train_loss"] > 0 for r in epochs)
    assert (job / "config.yaml").is_file()
    summary = next(r for r in records if r.get("type") == "summary")
    assert summary["last_checkpoint"] and Path(summary["last_checkpoint"]).is_file()
    task = _task(cfg)
    if task != "image_text_pretrain":
        evals = {r["split"]: r for r in records if r.get("type") == "eval"}
        _check(task, evals, job)


@pytest.mark.parametrize("cfg", EVAL, ids=lambda p: p.stem)
def test_eval_config_runs(cfg: Path, tmp_path: Path) -> None:
    code = run(["evaluate", "--cfg-path", str(cfg), "--options", *SHRINK, f"run.output_dir={tmp_path}"])
    assert code == 0
    job = next(p for p in tmp_path.iterdir() if (p / "log.jsonl").is_file())
    evals = {r["split"]: r for r in _records(job) if r.get("type") == "eval"}
    _check(_task(cfg), evals, job)

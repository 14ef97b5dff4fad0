"""The zero_shot_classification task through ``vlkit evaluate`` with the project config and a trained tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.models.test_zero_shot import above_chance_floor
from vlkit.cli import run
from vlkit.common.config import Config, ConfigError
from vlkit.data.synthetic.classes import write_class_folders

PROJECT = Path(__file__).resolve().parents[2] / "projects" / "blip" / "eval" / "zero_shot_classification.yaml"


@pytest.mark.slow
def test_evaluate_image_folder_well_above_chance(trained_itc_checkpoint: Path, tmp_path: Path) -> None:
    write_class_folders(tmp_path / "colours", "colour", per_class=8, seed=2, image_size=32)
    options = [
        "model.model_type=tiny",
        f"model.finetuned={trained_itc_checkpoint}",
        "model.load_finetuned=true",
        "model.image_size=32",
        "model.queue_size=64",
        f"datasets.image_folder.build_info.root={tmp_path / 'colours'}",
        "datasets.image_folder.vis_processor.eval.image_size=32",
        "run.templates=['a {} shape','a photo of a {} shape']",
        "run.rerank_k=2",
        "run.device=cpu",
        "run.num_workers=0",
        "run.batch_size_eval=16",
        "run.progress=off",
        f"run.output_dir={tmp_path / 'out'}",
        "run.job_name=job",
    ]
    assert run(["evaluate", "--cfg-path", str(PROJECT), "--options", *options]) == 0
    job = tmp_path / "out" / "job"
    records = [json.loads(line) for line in (job / "log.jsonl").read_text().splitlines()]
    metrics = next(r for r in records if r.get("type") == "eval" and r["split"].startswith("val"))
    results = json.loads(next((job / "result").glob("val*.json")).read_text())
    colours = {"red", "green", "blue", "yellow", "purple", "orange"}
    assert len(results) == 6 * 8 and {r["label"] for r in results} <= colours
    accuracy = sum(r["prediction"] == r["target"] for r in results) / len(results)
    assert metrics["accuracy"] == pytest.approx(100 * accuracy)
    assert metrics["chance_accuracy"] == pytest.approx(100 / 6) and metrics["num_classes"] == 6
    assert 0 <= metrics["top5_accuracy"] <= 100 and metrics["top5_accuracy"] >= metrics["accuracy"]
    assert accuracy >= above_chance_floor(6, len(results)), metrics


def test_bad_templates_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"run.templates: template 'a photo' must contain"):
        Config(PROJECT, ["run.templates=['a photo']"])
    with pytest.raises(ConfigError, match="rerank_k"):
        Config(PROJECT, ["run.rerank_k=-1"])

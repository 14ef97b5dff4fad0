"""Every project config in projects/blip validates against the registered components' typed configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlkit.capfilt.config import load_capfilt_config
from vlkit.common.config import Config
from vlkit.pipelines.pipeline import load_pipeline

ROOT = Path(__file__).resolve().parents[2] / "projects" / "blip"
PROJECTS = sorted(
    [
        *(ROOT / "train").glob("*.yaml"),
        *(ROOT / "eval").glob("*.yaml"),
        *(ROOT / "quickstart").glob("[pr]*.yaml"),
        *(ROOT / "quickstart").glob("caption.yaml"),
        *(ROOT / "reproduction").glob("[pr]*.yaml"),
        *(ROOT / "reproduction").glob("caption.yaml"),
    ]
)


@pytest.mark.parametrize("path", PROJECTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_project_config_validates(path: Path) -> None:
    cfg = Config(path)
    assert cfg.run_cfg.task and cfg.model_cfg.arch


@pytest.mark.parametrize("path", sorted((ROOT / "pipelines").glob("*.yaml")), ids=lambda p: p.stem)
def test_pipelines_load_and_name_existing_configs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT.parents[1])
    for stage in load_pipeline(path).stages:
        assert Path(stage.cfg).is_file(), stage.cfg


def test_capfilt_configs_load(monkeypatch: pytest.MonkeyPatch) -> None:
    for path in [*(ROOT / "capfilt").glob("*.yaml"), ROOT / "reproduction" / "capfilt.yaml"]:
        cfg = load_capfilt_config(path, ["capfilt.output_dir=unused"])
        assert cfg.decoding.use_nucleus_sampling and cfg.filter.arch
    # the quickstart's CapFilt takes its data paths from the pipeline's world stage
    paths = ["capfilt.data.annotations=w.json", "capfilt.data.heldout_annotations=v.json"]
    cfg = load_capfilt_config(ROOT / "quickstart" / "capfilt.yaml", ["capfilt.output_dir=unused", *paths])
    assert cfg.itm_threshold == "auto" and cfg.decoding.use_nucleus_sampling

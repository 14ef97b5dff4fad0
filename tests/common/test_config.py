from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vlkit.common.config import Config, ConfigError, RunConfig
from vlkit.common.registry import registry


@dataclass
class _ToyModelConfig:
    arch: str = "_toy_cfg_model"
    model_type: str = "small"
    width: int = 8
    image_size: int = 224


@dataclass
class _ToyRunConfig(RunConfig):
    num_beams: int = 3


@pytest.fixture
def toy_components(tmp_path: Path) -> Iterator[Path]:
    small = tmp_path / "toy_small.yaml"
    small.write_text("model:\n  arch: _toy_cfg_model\n  width: 16\n  image_size: 64\n")

    class ToyModel:
        PRETRAINED_MODEL_CONFIG_DICT = {"small": str(small)}
        CONFIG_CLASS = _ToyModelConfig

    class ToyTask:
        RUN_CONFIG = _ToyRunConfig

    registry.register_model("_toy_cfg_model")(ToyModel)
    registry.register_task("_toy_cfg_task")(ToyTask)
    try:
        yield tmp_path
    finally:
        registry.of("model").unregister("_toy_cfg_model")
        registry.of("task").unregister("_toy_cfg_task")


def _project(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "project.yaml"
    path.write_text(text)
    return path


BASE = "model:\n  arch: _toy_cfg_model\n  model_type: small\nrun:\n  task: _toy_cfg_task\n  max_epoch: 2\n"


def test_merge_order_defaults_project_options(toy_components: Path) -> None:
    path = _project(toy_components, BASE + "  init_lr: 1.0e-4\n")
    cfg = Config(path, options=["model.width=32", "run.num_beams=5"])
    assert cfg.model_cfg.width == 32  # option beats model default (16) and dataclass default (8)
    assert cfg.model_cfg.image_size == 64  # model-type default beats dataclass default
    assert cfg.run_cfg.init_lr == pytest.approx(1e-4)
    assert cfg.run_cfg.num_beams == 5
    assert cfg.run_cfg.batch_size_train == 32  # typed default
    assert "width: 32" in cfg.to_yaml()


def test_unknown_run_key_names_key_and_file(toy_components: Path) -> None:
    path = _project(toy_components, BASE + "  max_epohc: 3\n")
    with pytest.raises(ConfigError) as info:
        Config(path)
    msg = str(info.value)
    assert "run.max_epohc" in msg and str(path) in msg and "Did you mean 'max_epoch'" in msg


def test_unknown_top_level_key(toy_components: Path) -> None:
    path = _project(toy_components, BASE + "runn:\n  x: 1\n")
    with pytest.raises(ConfigError, match=r"unknown top-level key 'runn'.*Did you mean 'run'"):
        Config(path)


def test_wrong_type_names_key(toy_components: Path) -> None:
    path = _project(toy_components, BASE.replace("max_epoch: 2", "max_epoch: lots"))
    with pytest.raises(ConfigError, match=r"run\.max_epoch"):
        Config(path)


def test_unknown_model_key_and_type(toy_components: Path) -> None:
    with pytest.raises(ConfigError, match=r"model\.widht.*Did you mean 'width'"):
        Config(_project(toy_components, BASE.replace("model_type: small", "model_type: small\n  widht: 3")))
    with pytest.raises(ConfigError, match=r"unknown model_type 'smal'.*Available types: small"):
        Config(_project(toy_components, BASE.replace("model_type: small", "model_type: smal")))


def test_unknown_model_name_suggests(toy_components: Path) -> None:
    with pytest.raises(KeyError, match=r"Did you mean '_toy_cfg_model'"):
        Config(_project(toy_components, BASE.replace("arch: _toy_cfg_model", "arch: _toy_cfg_modle")))


def test_bad_option_syntax(toy_components: Path) -> None:
    with pytest.raises(ConfigError, match="key.sub=value"):
        Config(_project(toy_components, BASE), options=["run.max_epoch"])


def test_custom_imports_are_imported(toy_components: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = toy_components / "my_custom_mod.py"
    mod.write_text("import vlkit\nvlkit.IMPORTED_BY_TEST = True\n")
    monkeypatch.syspath_prepend(str(toy_components))
    Config(_project(toy_components, BASE + "custom_imports: [my_custom_mod]\n"))
    import vlkit

    assert getattr(vlkit, "IMPORTED_BY_TEST", False)
    with pytest.raises(ImportError, match="no_such_module_xyz"):
        Config(_project(toy_components, BASE + "custom_imports: [no_such_module_xyz]\n"))


def test_missing_config_file_names_path() -> None:
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        Config("nope.yaml")


def test_a_processor_of_another_name_replaces_the_default_spec(tmp_path: Path) -> None:
    """Swapping the train processor for blip_image_eval must not inherit blip_image_train's keys."""
    path = tmp_path / "p.yaml"
    path.write_text(
        "model:\n  arch: blip_retrieval\n  model_type: tiny\n"
        "  preprocess: {vis_processor: {train: {name: blip_image_eval, image_size: 64}}}\n"
        "datasets:\n  shapes_coco_retrieval:\n    vis_processor: {train: {name: blip_image_eval, image_size: 64}}\n"
        "run: {task: retrieval, output_dir: out}\n"
    )
    cfg = Config(path, ["datasets.shapes_coco_retrieval.vis_processor.eval.image_size=32"])
    vis = cfg.datasets_cfg.shapes_coco_retrieval.vis_processor
    assert dict(vis.train) == {"name": "blip_image_eval", "image_size": 64}
    assert dict(vis.eval) == {"name": "blip_image_eval", "image_size": 32}  # same name: merged with the default
    assert dict(cfg.model_cfg.preprocess.vis_processor.train) == {"name": "blip_image_eval", "image_size": 64}
    assert cfg.model_cfg.preprocess.text_processor.train.name == "blip_caption"


@pytest.mark.parametrize("task", ["captioning", "vqa"])
def test_length_normalization_is_checked_at_load(tmp_path: Path, task: str) -> None:
    import vlkit.tasks  # noqa: F401  (registers the tasks)

    path = tmp_path / "decode.yaml"
    path.write_text(f"run:\n  task: {task}\n  generation: {{length_normalization: generated}}\n")
    assert Config(path).run_cfg.generation.length_normalization == "generated"
    override = ["run.generation.length_normalization=full"]
    assert Config(path, override).run_cfg.generation.length_normalization == "full"
    with pytest.raises(ConfigError) as info:
        Config(path, ["run.generation.length_normalization=prompt"])
    msg = str(info.value)
    assert "run.generation.length_normalization must be one of full, generated, got 'prompt'" in msg
    assert str(path) in msg
    path.write_text(f"run:\n  task: {task}\n  length_normalization: generated\n")  # the former flat key
    with pytest.warns(DeprecationWarning, match="use 'run.generation.length_normalization'"):
        assert Config(path).run_cfg.generation.length_normalization == "generated"


def test_model_alpha_ramp_epochs_is_accepted_with_a_deprecation(tmp_path: Path) -> None:
    """The key never had an effect: it is dropped with a message saying so (and rejected next release)."""
    path = tmp_path / "p.yaml"
    path.write_text("model: {arch: blip_retrieval, model_type: tiny, alpha_ramp_epochs: 3}\nrun: {task: retrieval}\n")
    with pytest.warns(DeprecationWarning, match=r"model.alpha_ramp_epochs' has no effect"):
        cfg = Config(path)
    assert "alpha_ramp_epochs" not in cfg.model_cfg

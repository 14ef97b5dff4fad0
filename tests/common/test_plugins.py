"""Third-party plugins: examples/vlkit_example_plugin, pip-installed into an isolated directory, used from
another working directory through ``load_model``, ``vlkit list`` and ``vlkit train``; a broken plugin only warns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vlkit
from vlkit.common.config import load_model_default_config
from vlkit.common.paths import resolve_config_path

REPO = Path(vlkit.__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "vlkit_example_plugin"
BROKEN_SRC = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "vlkit-broken-plugin"
        version = "0.0.1"

        [project.entry-points."vlkit.plugins"]
        broken = "vlkit_broken_plugin"

        [tool.setuptools]
        py-modules = ["vlkit_broken_plugin"]
    """,
    "vlkit_broken_plugin.py": 'raise RuntimeError("this plugin is deliberately broken")\n',
}


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin and a broken one, installed (not editable) into a directory of their own."""
    src = tmp_path_factory.mktemp("plugin_src")
    example = shutil.copytree(EXAMPLE, src / "example", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    (src / "broken").mkdir()
    for name, text in BROKEN_SRC.items():
        (src / "broken" / name).write_text(textwrap.dedent(text))
    target = tmp_path_factory.mktemp("plugin_site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target"]
        + [str(target), str(example), str(src / "broken")],
        check=True,
    )
    assert (target / "vlkit_example_plugin" / "configs" / "models" / "colour_classifier" / "small.yaml").is_file()
    return target


def _run(args: list[str], site: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python args...`` with the plugin site and this checkout's vlkit importable, from ``cwd``."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]), **env}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300, check=False
    )


def test_plugin_model_config_resolves_in_its_package_from_any_directory(plugin_site: Path, tmp_path: Path) -> None:
    code = (
        "from vlkit.models import load_model_and_preprocess\n"
        "from vlkit.common.config import model_config_path\n"
        "m, vis, _ = load_model_and_preprocess('example_colour_classifier', 'small')\n"
        "print(m.config.width, vis['train'].config.jitter, model_config_path(type(m), 'small'))\n"
    )
    out = _run(["-c", code], plugin_site, tmp_path)
    assert out.returncode == 0, out.stderr
    width, jitter, path = out.stdout.split()
    assert (width, jitter) == ("12", "0.1")  # from the plugin's YAML (the dataclass defaults are 8 and 0.0)
    assert Path(path).is_relative_to(plugin_site)
    # the broken plugin warns with its name and error, and did not stop the good one
    assert "'broken'" in out.stderr and "deliberately broken" in out.stderr


def test_cli_lists_the_plugin_components(plugin_site: Path, tmp_path: Path) -> None:
    expected = {
        "models": "example_colour_classifier: small",
        "processors": "example_colour_jitter",
        "builders": "example_colour_squares",
        "tasks": "example_colour_classification",
    }
    code = "import sys; from vlkit.cli import run; sys.exit(max(run(['list', k]) for k in sys.argv[1:]))"
    out = _run(["-c", code, *expected], plugin_site, tmp_path)
    assert out.returncode == 0, out.stderr
    assert set(expected.values()) <= set(out.stdout.splitlines())


def test_vlkit_train_runs_the_plugin_project(plugin_site: Path, tmp_path: Path) -> None:
    cfg = "vlkit_example_plugin:configs/projects/train_colour.yaml"  # package-qualified: works from any cwd
    options = [f"run.output_dir={tmp_path / 'out'}", "run.job_name=run", "run.max_epoch=2"]
    out = _run(["-m", "vlkit", "train", "--cfg-path", cfg, "--options", *options], plugin_site, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "out" / "run" / "log.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["type"] == "eval"]
    assert len(evals) == 2 and all(0.0 <= r["accuracy"] <= 100.0 for r in evals), evals
    assert "example_colour_squares" in (tmp_path / "out" / "run" / "config.yaml").read_text()


def test_autoload_can_be_disabled(plugin_site: Path, tmp_path: Path) -> None:
    code = "from vlkit.common.registry import registry\nprint('example_colour_classifier' in registry.list_models())\n"
    out = _run(["-c", code], plugin_site, tmp_path, VLKIT_PLUGIN_AUTOLOAD="0")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    assert "deliberately broken" not in out.stderr


def test_missing_plugin_yaml_names_the_key_and_the_paths() -> None:
    class MissingYaml:
        PRETRAINED_MODEL_CONFIG_DICT = {"small": "configs/models/not_shipped.yaml"}

    with pytest.raises(FileNotFoundError) as err:
        load_model_default_config(MissingYaml, "small")
    message = str(err.value)
    assert "MissingYaml.PRETRAINED_MODEL_CONFIG_DICT['small']" in message
    assert str(Path(__file__).parent / "configs" / "models" / "not_shipped.yaml") in message  # its package first
    assert str(Path.cwd() / "configs" / "models" / "not_shipped.yaml") in message


def test_package_qualified_path_needs_an_installed_package() -> None:
    with pytest.raises(FileNotFoundError, match="'no_such_vlkit_plugin', which is not installed"):
        resolve_config_path("no_such_vlkit_plugin:configs/x.yaml")
    assert resolve_config_path("vlkit:configs/models/blip_caption/tiny.yaml").is_file()

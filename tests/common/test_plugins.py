"""Third-party plugins: a real package with a `vlkit.plugins` entry point, built and pip-installed here."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN_SRC = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "vlkit-toy-plugin"
        version = "0.0.1"

        [project.entry-points."vlkit.plugins"]
        toy = "vlkit_toy_plugin"
        broken = "vlkit_toy_broken"

        [tool.setuptools]
        py-modules = ["vlkit_toy_plugin", "vlkit_toy_broken"]
    """,
    "vlkit_toy_plugin.py": """
        import torch
        from vlkit.common.registry import registry

        @registry.register_model("toy_plugin_model")
        class ToyPluginModel(torch.nn.Module):
            PRETRAINED_MODEL_CONFIG_DICT = {"default": "unused.yaml"}

            def __init__(self):
                super().__init__()
                self.proj = torch.nn.Linear(4, 2)
    """,
    "vlkit_toy_broken.py": """
        raise RuntimeError("this plugin is deliberately broken")
    """,
}


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("plugin_src")
    for name, text in PLUGIN_SRC.items():
        (src / name).write_text(textwrap.dedent(text))
    target = tmp_path_factory.mktemp("plugin_site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--target", str(target), str(src)],
        check=True,
    )
    assert list(target.glob("vlkit_toy_plugin-*.dist-info"))
    return target


def _run(code: str, site: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.getcwd()]), **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=300)


def test_installed_plugin_model_is_listed_and_loadable(plugin_site: Path) -> None:
    code = (
        "from vlkit.common.registry import registry\n"
        "assert 'toy_plugin_model' in registry.list_models(), registry.list_models()\n"
        "m = registry.get_model_class('toy_plugin_model')()\n"
        "print(type(m).__name__, sum(p.numel() for p in m.parameters()))\n"
    )
    out = _run(code, plugin_site)
    assert out.returncode == 0, out.stderr
    assert "ToyPluginModel 10" in out.stdout
    # The broken plugin warns with its name and error, and did not stop the good one.
    assert "'broken'" in out.stderr and "deliberately broken" in out.stderr


def test_autoload_can_be_disabled(plugin_site: Path) -> None:
    code = "from vlkit.common.registry import registry\nprint('toy_plugin_model' in registry.list_models())\n"
    out = _run(code, plugin_site, VLKIT_PLUGIN_AUTOLOAD="0")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    assert "deliberately broken" not in out.stderr


def test_cli_lists_plugin_model(plugin_site: Path) -> None:
    out = _run("import sys; from vlkit.cli import run; sys.exit(run(['list', 'models']))", plugin_site)
    assert out.returncode == 0, out.stderr
    assert "toy_plugin_model: default" in out.stdout.splitlines()

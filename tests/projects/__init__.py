"""Tests of the project scripts; ``load_script`` imports one of projects/blip/reproduction/*.py."""

import importlib.util
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def load_script(name: str) -> ModuleType:
    """Import ``projects/blip/reproduction/<name>.py`` (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "projects/blip/reproduction" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

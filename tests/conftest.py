"""Test-wide settings: an isolated cache root and a small thread count for the 2-core CI machine."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("VLKIT_PLUGIN_AUTOLOAD", "1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point VLKIT_CACHE at a per-session temp dir unless the caller set one (CI shares a generated world)."""
    if "VLKIT_CACHE" not in os.environ:
        monkeypatch.setenv("VLKIT_CACHE", str(tmp_path_factory.getbasetemp() / "vlkit_cache"))

"""Filesystem locations. Everything vlkit writes by default lives under one cache root."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The cache root: ``$VLKIT_CACHE`` if set, else ``~/.cache/vlkit``. Created on demand."""
    root = Path(os.environ.get("VLKIT_CACHE") or Path.home() / ".cache" / "vlkit").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def package_root() -> Path:
    """The installed ``vlkit`` package directory (holds ``configs/``)."""
    return Path(__file__).resolve().parent.parent


def resolve_config_path(path: str | Path) -> Path:
    """Resolve a config path: absolute, relative to the cwd, or relative to the package (``configs/...``).

    Raises:
        FileNotFoundError: naming every place that was tried.
    """
    p = Path(path).expanduser()
    candidates = [p] if p.is_absolute() else [Path.cwd() / p, package_root() / p]
    for cand in candidates:
        if cand.is_file():
            return cand
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"Config file {str(path)!r} not found (tried {tried}).")

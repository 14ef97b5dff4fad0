"""Filesystem locations. Everything vlkit writes by default lives under one cache root.

Config paths (project files, model and dataset YAMLs) resolve in this order:

1. an absolute path, as it is;
2. ``package:relative/path``: relative to that importable package's directory (e.g.
   ``my_plugin:configs/models/base.yaml``), and nowhere else;
3. a relative path: relative to each of the *owner* packages a caller names (the package of the model or
   builder class that lists the path, so a plugin's YAMLs resolve from any working directory), then the
   working directory, then the ``vlkit`` package (``configs/...``), then the project configs shipped with
   vlkit (``projects/...``, so an installed wheel runs ``vlkit quickstart`` from any directory).
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable
from pathlib import Path

# ``package.sub:relative/path``; a URL (``scheme://``) is not one (absolute paths are handled before).
_QUALIFIED = re.compile(r"^(?P<package>[A-Za-z_][\w.]*):(?P<rel>[^/\\].*)$")
# The project configs live in ``projects/`` of a checkout; a wheel carries them as ``vlkit/_projects``.
PROJECTS_PREFIX = "projects"
PACKAGED_PROJECTS = "_projects"


def cache_root() -> Path:
    """The cache root: ``$VLKIT_CACHE`` if set, else ``~/.cache/vlkit``. Created on demand."""
    root = Path(os.environ.get("VLKIT_CACHE") or Path.home() / ".cache" / "vlkit").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def package_root() -> Path:
    """The installed ``vlkit`` package directory (holds ``configs/``)."""
    return Path(__file__).resolve().parent.parent


def package_dir(package: str) -> Path | None:
    """The directory of importable ``package`` (its first one, for a namespace package), or ``None``.

    The package is located without being imported.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    return Path(spec.origin).resolve().parent if spec.origin else None


def owner_packages(cls: type) -> list[str]:
    """The packages a class's relative config paths are looked up in: its module's package and top-level package.

    ``my_plugin.models.blip`` (module of ``cls``) gives ``["my_plugin.models", "my_plugin"]``.
    """
    parts = cls.__module__.split(".")
    packages = [".".join(parts[:-1]), parts[0]] if len(parts) > 1 else [parts[0]]
    return list(dict.fromkeys(p for p in packages if p and p != "__main__"))


def config_candidates(path: str | Path, owners: Iterable[str] = ()) -> list[Path]:
    """Every place :func:`resolve_config_path` looks for ``path``, in order."""
    text = str(path)
    p = Path(text).expanduser()
    if p.is_absolute():
        return [p]
    qualified = _QUALIFIED.match(text)
    if qualified:
        where = package_dir(qualified["package"])
        if where is None:
            raise FileNotFoundError(
                f"Config file {text!r} names package {qualified['package']!r}, which is not installed "
                f"(`package:relative/path` is looked up in that package's directory)."
            )
        return [where / qualified["rel"]]
    candidates = [d / p for d in (package_dir(o) for o in owners) if d is not None]
    candidates += [Path.cwd() / p, package_root() / p]
    if p.parts and p.parts[0] == PROJECTS_PREFIX:
        checkout = package_root().parent
        if (checkout / "setup.py").is_file():  # vlkit imported from a source checkout (editable install)
            candidates.append(checkout / p)
        candidates.append(package_root() / PACKAGED_PROJECTS / Path(*p.parts[1:]))
    return list(dict.fromkeys(candidates))


def resolve_config_path(path: str | Path, owners: Iterable[str] = ()) -> Path:
    """Resolve a config path (see the module docstring for the order).

    Args:
        path: absolute, ``package:relative/path``, or relative.
        owners: packages to look in first, e.g. :func:`owner_packages` of the class that lists ``path``.

    Raises:
        FileNotFoundError: naming every place that was tried.
    """
    candidates = config_candidates(path, owners)
    for cand in candidates:
        if cand.is_file():
            return cand
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"Config file {str(path)!r} not found (tried {tried}).")

"""Loading of built-in components and third-party plugins into the registry.

Built-in modules register their classes on import. They are imported on the first registry lookup
or listing, not by ``import vlkit``, so importing the package stays cheap.

Third-party packages declare an entry point in the group ``vlkit.plugins``; the object it points at
is imported (and called, if it is a function taking no arguments) so that it can register classes::

    [project.entry-points."vlkit.plugins"]
    my_plugin = "my_package.vlkit_plugin"

Set ``VLKIT_PLUGIN_AUTOLOAD=0`` to disable entry-point loading.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import warnings
from collections.abc import Iterable
from importlib.metadata import entry_points

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "vlkit.plugins"

# Packages whose import registers vlkit's own models, processors, builders, tasks, runners and schedulers.
BUILTIN_MODULES = (
    "vlkit.models",
    "vlkit.processors",
    "vlkit.data.builders",
    "vlkit.tasks",
    "vlkit.runners",
)

_loaded = False


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def load_builtins() -> None:
    """Import the built-in component packages that exist in this installation."""

    for name in BUILTIN_MODULES:
        if _module_exists(name):
            importlib.import_module(name)


def load_plugins() -> list[str]:
    """Import every ``vlkit.plugins`` entry point; failures warn and do not stop the others.

    Returns:
        The names of the plugins that loaded.
    """
    if os.environ.get("VLKIT_PLUGIN_AUTOLOAD", "1").strip().lower() in {"0", "false", "no", "off"}:
        return []
    loaded = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, type):
                obj()
        except Exception as err:  # noqa: BLE001 - a broken plugin must not take vlkit down with it.
            warnings.warn(
                f"vlkit plugin {ep.name!r} ({ep.value}) failed to load and was skipped: {type(err).__name__}: {err}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        loaded.append(ep.name)
        logger.debug("loaded vlkit plugin %s (%s)", ep.name, ep.value)
    return loaded


def load_plugins_once() -> None:
    """Run :func:`load_builtins` and :func:`load_plugins` once per process (registry first-use hook)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    load_builtins()
    load_plugins()


def import_custom_modules(modules: Iterable[str], source: str = "config") -> None:
    """Import the modules a project config lists under ``custom_imports``.

    Raises:
        ImportError: naming the module and where it was listed.
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ImportError(
                f"custom_imports entry {name!r} in {source} could not be imported: {err}. "
                f"Install the package that provides it or fix the module path."
            ) from err

"""Name → class registries for every pluggable kind of vlkit object.

A registry holds classes only. Runtime state (paths, result dirs, constants) belongs to the objects
that use it, never here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from vlkit.common.deprecation import warn_deprecated

T = TypeVar("T")


class RegistryKeyError(KeyError):
    """Raised when a name is not registered; the message lists the closest registered names."""

    def __str__(self) -> str:  # KeyError's default str() wraps the message in quotes.
        return str(self.args[0]) if self.args else ""


class Registry:
    """A registry for one kind of object (models, processors, ...).

    Args:
        kind: Human-readable kind used in error messages, e.g. ``"model"``.
        on_first_use: Called once before the first lookup or listing (loads third-party plugins).
    """

    def __init__(self, kind: str, on_first_use: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, type] = {}
        self._aliases: dict[str, str] = {}
        self._on_first_use = on_first_use

    def _ready(self) -> None:
        if self._on_first_use is not None:
            hook, self._on_first_use = self._on_first_use, None
            hook()

    def register(self, name: str, cls: type | None = None, *, force: bool = False) -> Any:
        """Register ``cls`` under ``name``; usable as ``@reg.register("name")`` or ``reg.register("name", cls)``.

        Raises:
            ValueError: if ``name`` is already taken by another class and ``force`` is false.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"A {self.kind} name must be a non-empty string, got {name!r}.")

        def add(obj: type) -> type:
            existing = self._items.get(name)
            if existing is not None and existing is not obj and not force:
                raise ValueError(
                    f"{self.kind} name {name!r} is already registered to "
                    f"{existing.__module__}.{existing.__qualname__}; "
                    f"choose another name or pass force=True to replace it."
                )
            self._items[name] = obj
            return obj

        return add if cls is None else add(cls)

    def get(self, name: str) -> type:
        """Return the class registered under ``name``.

        Raises:
            RegistryKeyError: if the name is unknown; the message suggests close matches.
        """
        self._ready()
        try:
            return self._items[name]
        except KeyError:
            pass
        if name in self._aliases:
            new = self._aliases[name]
            warn_deprecated(f"the {self.kind} name {name!r} is deprecated and will be removed; use {new!r}.")
            return self.get(new)
        close = difflib.get_close_matches(str(name), list(self._items), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._items)) or "(none)"
        raise RegistryKeyError(
            f"{name!r} is not in the {self.kind} registry.{hint} Registered {self.kind}s: {known}. "
            f"Check the name in your config, or install/import the plugin that provides it."
        ) from None

    def alias(self, old: str, new: str) -> None:
        """Keep ``old`` working as a deprecated name of ``new`` (looked up with a deprecation message).

        Raises:
            ValueError: if ``old`` is a registered name.
        """
        if old in self._items:
            raise ValueError(f"{self.kind} name {old!r} is registered; it cannot also be an alias of {new!r}.")
        self._aliases[old] = new

    def names(self) -> list[str]:
        """Sorted registered names (deprecated aliases are not listed)."""
        self._ready()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._ready()
        return name in self._items or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ready()
        return len(self._items)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (mainly for tests)."""
        self._items.pop(name, None)


# kind -> its plural in the list_* verb; every other verb is derived from the kind
KIND_TABLE: dict[str, str] = {
    "model": "models",
    "processor": "processors",
    "builder": "builders",
    "task": "tasks",
    "runner": "runners",
    "lr_scheduler": "lr_schedulers",
}
KINDS = tuple(KIND_TABLE)


class VlkitRegistry:
    """The collection of per-kind registries with LAVIS-compatible verbs.

    For each kind of :data:`KIND_TABLE`: ``register_<kind>(name, force=False)`` (a decorator),
    ``get_<kind>_class(name)`` (raises :class:`RegistryKeyError`) and ``list_<plural>()`` (sorted names),
    e.g. ``register_model``, ``get_model_class``, ``list_models``. The verbs are generated from the table.
    """

    def __init__(self) -> None:
        from vlkit.common.plugins import load_plugins_once

        self._registries = {kind: Registry(kind, on_first_use=load_plugins_once) for kind in KINDS}

    def of(self, kind: str) -> Registry:
        """The registry for ``kind`` (one of :data:`KINDS`)."""
        try:
            return self._registries[kind]
        except KeyError:
            raise RegistryKeyError(f"Unknown registry kind {kind!r}; expected one of {', '.join(KINDS)}.") from None


def _add_verbs(kind: str, plural: str) -> None:
    label = kind.replace("_", " ")

    def register(self: VlkitRegistry, name: str, force: bool = False) -> Callable[[type[T]], type[T]]:
        return self._registries[kind].register(name, force=force)

    def get_class(self: VlkitRegistry, name: str) -> type:
        return self._registries[kind].get(name)

    def list_names(self: VlkitRegistry) -> list[str]:
        return self._registries[kind].names()

    for verb, fn, doc in (
        (f"register_{kind}", register, f"Decorator registering a {label} class under ``name``."),
        (f"get_{kind}_class", get_class, f"The {label} class registered under ``name`` (raises RegistryKeyError)."),
        (f"list_{plural}", list_names, f"Sorted registered {label} names."),
    ):
        fn.__name__ = fn.__qualname__ = verb
        fn.__doc__ = doc
        setattr(VlkitRegistry, verb, fn)


for _kind, _plural in KIND_TABLE.items():
    _add_verbs(_kind, _plural)


registry = VlkitRegistry()

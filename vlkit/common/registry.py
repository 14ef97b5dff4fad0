"""Name → class registries for every pluggable kind of vlkit object.

A registry holds classes only. Runtime state (paths, result dirs, constants) belongs to the objects
that use it, never here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

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
        close = difflib.get_close_matches(str(name), list(self._items), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        known = ", ".join(sorted(self._items)) or "(none)"
        raise RegistryKeyError(
            f"{name!r} is not in the {self.kind} registry.{hint} Registered {self.kind}s: {known}. "
            f"Check the name in your config, or install/import the plugin that provides it."
        ) from None

    def names(self) -> list[str]:
        """Sorted registered names."""
        self._ready()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._ready()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ready()
        return len(self._items)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (mainly for tests)."""
        self._items.pop(name, None)


KINDS = ("model", "processor", "builder", "task", "runner", "lr_scheduler")


class VlkitRegistry:
    """The collection of per-kind registries with LAVIS-compatible verbs.

    ``register_model(name)``, ``get_model_class(name)``, ``list_models()`` and likewise for
    processors, builders, tasks, runners and lr_schedulers.
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

    def register_model(self, name: str, force: bool = False) -> Callable[[type[T]], type[T]]:
        """Decorator registering a model class under ``name``."""
        return self._registries["model"].register(name, force=force)

    def get_model_class(self, name: str) -> type:
        """The model class registered under ``name`` (raises :class:`RegistryKeyError`)."""
        return self._registries["model"].get(name)

    def list_models(self) -> list[str]:
        """Sorted registered model names."""
        return self._registries["model"].names()

    def register_processor(self, name: str, force: bool = False) -> Callable[[type[T]], type[T]]:
        """Decorator registering a processor class under ``name``."""
        return self._registries["processor"].register(name, force=force)

    def get_processor_class(self, name: str) -> type:
        """The processor class registered under ``name`` (raises :class:`RegistryKeyError`)."""
        return self._registries["processor"].get(name)

    def list_processors(self) -> list[str]:
        """Sorted registered processor names."""
        return self._registries["processor"].names()

    def register_builder(self, name: str, force: bool = False) -> Callable[[type[T]], type[T]]:
        """Decorator registering a builder class under ``name``."""
        return self._registries["builder"].register(name, force=force)

    def get_builder_class(self, name: str) -> type:
        """The builder class registered under ``name`` (raises :class:`RegistryKeyError`)."""
        return self._registries["builder"].get(name)

    def list_builders(self) -> list[str]:
        """Sorted registered builder names."""
        return self._registries["builder"].names()

    def register_task(self, name: str, force: bool = False) -> Callable[[type[T]], type[T]]:
        """Decorator registering a task class under ``name``."""
        return self._registries["task"].register(name, force=force)

    def get_task_class(self, name: str) -> type:
        """The task class registered under ``name`` (raises :class:`RegistryKeyError`)."""
        return self._registries["task"].get(name)

    def list_tasks(self) -> list[str]:
        """Sorted registered task names."""
        return self._registries["task"].names()

    def register_runner(self, name: str, force: bool = False) -> Callable[[type[T]], type[T]]:
        """Decorator registering a runner class under ``name``."""
        return self._registries["runner"].register(name, force=force)

    def get_runner_class(self, name: str) -> type:
        """The runner class registered under ``name`` (raises :class:`RegistryKeyError`)."""
        return self._registries["runner"].get(name)

    def list_runners(self) -> list[str]:
        """Sorted registered runner names."""
        return self._registries["runner"].names()

    def register_lr_scheduler(self, name: str, force: bool = False) -> Callable[[type[T]], type[T]]:
        """Decorator registering a lr scheduler class under ``name``."""
        return self._registries["lr_scheduler"].register(name, force=force)

    def get_lr_scheduler_class(self, name: str) -> type:
        """The lr scheduler class registered under ``name`` (raises :class:`RegistryKeyError`)."""
        return self._registries["lr_scheduler"].get(name)

    def list_lr_schedulers(self) -> list[str]:
        """Sorted registered lr scheduler names."""
        return self._registries["lr_scheduler"].names()


registry = VlkitRegistry()

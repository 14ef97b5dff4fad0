"""Base class for processors: typed config dataclass + validated ``from_config``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, ClassVar, TypeVar

from omegaconf import DictConfig, OmegaConf

from vlkit.common.config import to_dataclass, validate_section
from vlkit.common.registry import registry

P = TypeVar("P", bound="BaseProcessor")


class BaseProcessor:
    """A callable that turns one raw input (image, text, video path) into model input.

    Subclasses set ``CONFIG_CLASS`` to the dataclass holding their options and defaults — the one typed
    place a processor's keys are defined — and read them from ``self.config``.
    """

    CONFIG_CLASS: ClassVar[type]
    NAME: ClassVar[str] = ""  # set by :func:`register_processor`

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.CONFIG_CLASS()

    @classmethod
    def from_config(cls: type[P], cfg: DictConfig | dict | None = None) -> P:
        """Build the processor from a config node, filling unset keys from ``CONFIG_CLASS``'s defaults.

        A ``name`` key (as written in dataset configs next to the options) is accepted and ignored.

        Raises:
            vlkit.common.config.ConfigError: for an unknown key or a value of the wrong type, naming the
                processor and the key.
        """
        node = OmegaConf.create({}) if cfg is None else OmegaConf.create(cfg) if isinstance(cfg, dict) else cfg
        if "name" in node:
            node = OmegaConf.masked_copy(node, [k for k in node if k != "name"])
        name = cls.NAME or cls.__name__
        validated = validate_section(node, cls.CONFIG_CLASS, name, f"processor {name!r} ({cls.__name__})")
        return cls(to_dataclass(validated, cls.CONFIG_CLASS))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in asdict(self.config).items())
        return f"{type(self).__name__}({args})"


def register_processor(name: str) -> Callable[[type[P]], type[P]]:
    """Register a processor class under ``name`` and record the name on the class (used in error messages)."""

    def wrap(cls: type[P]) -> type[P]:
        cls.NAME = name
        return registry.register_processor(name)(cls)

    return wrap

"""Deprecated names and config keys: they keep working for one release, with a message naming the new one."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping

from omegaconf import DictConfig, OmegaConf

logger = logging.getLogger("vlkit.deprecation")


def warn_deprecated(message: str) -> None:
    """Log ``message`` as a warning and raise a :class:`DeprecationWarning` (for tests and ``-W error``)."""
    logger.warning("deprecated: %s", message)
    warnings.warn(message, DeprecationWarning, stacklevel=3)


def apply_deprecated_keys(
    node: DictConfig, renamed: Mapping[str, str | None], key_path: str, source: str
) -> DictConfig:
    """Rewrite deprecated keys of ``node`` (a config section) to their new place, warning once per key.

    Args:
        node: The section as the user wrote it (not modified).
        renamed: old key -> new key path relative to the section (``generation.max_length``), or None for a key
            that no longer has any effect (it is dropped).
        key_path: The section's path for messages (``run``, ``model``).
        source: The file the section came from.

    Returns:
        A copy of ``node`` with each old key moved to its new path (a value set at the new path wins).
    """
    hits = [k for k in node if k in renamed]
    if not hits:
        return node
    out = node.copy()
    for old in hits:
        new = renamed[old]
        value = out[old]
        del out[old]
        if new is None:
            warn_deprecated(
                f"{source}: '{key_path}.{old}' has no effect and will be rejected in the next release; delete it."
            )
            continue
        warn_deprecated(
            f"{source}: '{key_path}.{old}' is deprecated and will be removed in the next release; "
            f"use '{key_path}.{new}'."
        )
        if OmegaConf.select(out, new, default=None) is None:
            OmegaConf.update(out, new, value, force_add=True)
    return out

"""``${vlkit_shapes:sub/path}`` in configs: a path inside the synthetic world, generated on first use.

Registered when this module is imported (``vlkit.data`` imports it), so the config layer does not need to
know about the synthetic world.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

RESOLVER = "vlkit_shapes"


def shapes_path(sub: str = "") -> str:
    """``sub`` inside the default synthetic world (``$VLKIT_CACHE/datasets/shapes``), made if missing."""
    from vlkit.data.synthetic.world import ensure_world

    return str(Path(ensure_world()) / sub)


def register_resolver() -> None:
    """Register ``${vlkit_shapes:...}`` with OmegaConf (idempotent)."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_resolver(RESOLVER, shapes_path)


register_resolver()

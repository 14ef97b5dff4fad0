"""The built-in synthetic "shapes" world, written in the real datasets' formats (docs/data_formats.md)."""

from vlkit.data.synthetic.world import WorldInfo, ensure_world, generate_world

__all__ = ["WorldInfo", "ensure_world", "generate_world"]

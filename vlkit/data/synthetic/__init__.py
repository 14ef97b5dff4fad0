"""The built-in synthetic "shapes" world, written in the real datasets' formats (docs/data_formats.md).

``generate_world(out_dir, ...)`` writes it; ``ensure_world()`` returns the default world, generating it
into ``$VLKIT_CACHE/datasets/shapes`` on first use. Importing this package does not import OpenCV.
"""

from vlkit.data.synthetic.world import PARTS, WorldInfo, ensure_world, generate_world, read_world

__all__ = ["PARTS", "WorldInfo", "ensure_world", "generate_world", "read_world"]

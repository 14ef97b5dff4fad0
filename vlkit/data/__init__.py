"""Datasets: builders for every BLIP dataset format, robust image/video/text reading, the synthetic world.

Importing ``vlkit.data`` is light; builders register when ``vlkit.data.builders`` is imported (the
registry does that on first lookup). It registers the ``${vlkit_shapes:...}`` config resolver.
"""

from vlkit.data.synthetic import resolver as _resolver  # noqa: F401 (registers ${vlkit_shapes:...})

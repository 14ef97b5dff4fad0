"""Datasets: builders for every BLIP dataset format, robust image/video/text reading, the synthetic world.

Importing ``vlkit.data`` is light; builders register when ``vlkit.data.builders`` is imported (the
registry does that on first lookup).
"""

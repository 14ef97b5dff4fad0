"""Imported through ``custom_imports`` by the toy project configs: registers the toy components."""

from tests.runners.toy_components import register

register()

"""An example vlkit plugin: importing it registers one model, processor, dataset builder and task.

vlkit imports it through the ``vlkit.plugins`` entry point in ``pyproject.toml``. Its YAMLs live in
``configs/`` inside this package; the classes list them relative to the package, and the project config
is run from any directory as ``vlkit train --cfg-path vlkit_example_plugin:configs/projects/train_colour.yaml``.
"""

from vlkit_example_plugin.builder import ColourSquaresBuilder
from vlkit_example_plugin.model import ColourClassifier
from vlkit_example_plugin.processor import ColourJitterProcessor
from vlkit_example_plugin.task import ColourClassificationTask

__all__ = ["ColourClassificationTask", "ColourClassifier", "ColourJitterProcessor", "ColourSquaresBuilder"]

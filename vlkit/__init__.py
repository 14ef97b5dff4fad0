"""vlkit: vision-language models (BLIP) — pre-training, CapFilt, fine-tuning and evaluation.

``import vlkit`` is cheap: models, processors and datasets are imported on first use.
"""

from vlkit.common.registry import registry

__version__ = "0.1.0"

__all__ = ["registry", "__version__"]

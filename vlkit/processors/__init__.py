"""Processors turn raw samples (PIL images, caption/question strings, video files) into model inputs.

Importing this package registers every built-in processor; it imports neither torch nor OpenCV, decord or
PyAV (those load on first use).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from vlkit.common.registry import registry
from vlkit.processors.base_processor import BaseProcessor, register_processor
from vlkit.processors.image import BlipImageEvalProcessor, BlipImageTrainProcessor
from vlkit.processors.randaugment import RandAugment
from vlkit.processors.text import BlipCaptionProcessor, BlipQuestionProcessor, EmptyTextError
from vlkit.processors.video import (
    BlipVideoEvalProcessor,
    BlipVideoTrainProcessor,
    VideoDecodeError,
    read_video_frames,
)


def load_processor(name: str, cfg: dict | DictConfig | None = None) -> Any:
    """Build the processor registered as ``name`` from ``cfg`` (defaults for unset keys).

    Raises:
        vlkit.common.registry.RegistryKeyError: unknown ``name`` (with did-you-mean suggestions).
        vlkit.common.config.ConfigError: unknown or mistyped key in ``cfg``.
    """
    return registry.get_processor_class(name).from_config(cfg)


__all__ = [
    "BaseProcessor",
    "BlipCaptionProcessor",
    "BlipImageEvalProcessor",
    "BlipImageTrainProcessor",
    "BlipQuestionProcessor",
    "BlipVideoEvalProcessor",
    "BlipVideoTrainProcessor",
    "EmptyTextError",
    "RandAugment",
    "VideoDecodeError",
    "load_processor",
    "read_video_frames",
    "register_processor",
]

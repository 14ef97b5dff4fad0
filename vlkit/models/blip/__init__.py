"""BLIP models; importing this package registers them all."""

from vlkit.models.blip.caption import BlipCaption
from vlkit.models.blip.config import BlipConfig
from vlkit.models.blip.dialog import BlipDialog
from vlkit.models.blip.nlvr import BlipNLVR
from vlkit.models.blip.retrieval import BlipFeatureExtractor, BlipImageTextMatching, BlipPretrain, BlipRetrieval
from vlkit.models.blip.vqa import BlipVQA

__all__ = [
    "BlipCaption",
    "BlipConfig",
    "BlipDialog",
    "BlipFeatureExtractor",
    "BlipImageTextMatching",
    "BlipNLVR",
    "BlipPretrain",
    "BlipRetrieval",
    "BlipVQA",
]

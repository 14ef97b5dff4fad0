"""BLIP models; importing this package registers them all."""

from vlkit.models.blip.caption import BlipCaption
from vlkit.models.blip.config import BlipConfig
from vlkit.models.blip.dialog import BlipDialog
from vlkit.models.blip.feature_extractor import BlipFeatureExtractor
from vlkit.models.blip.image_text_matching import BlipImageTextMatching
from vlkit.models.blip.nlvr import BlipNLVR
from vlkit.models.blip.pretrain import BlipPretrain
from vlkit.models.blip.retrieval import BlipRetrieval
from vlkit.models.blip.vqa import BlipVQA
from vlkit.models.blip.warm_start_text import BlipWarmStartText
from vlkit.models.blip.warm_start_vision import BlipWarmStartVision

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
    "BlipWarmStartText",
    "BlipWarmStartVision",
]

"""MED: BLIP's multimodal mixture of encoder-decoder text transformer, written once.

One BERT-style layer stack serves as the unimodal text encoder (``mode="text"``: bidirectional
self-attention, no cross-attention), the image-grounded text encoder (``mode="multimodal"``) and the
image-grounded text decoder (``is_decoder=True``: causal self-attention + LM head). NLVR²'s two-image
cross-attention is the same layer with ``num_cross_images=2``. State-dict keys match the released
checkpoints (``embeddings.*``, ``encoder.layer.N.{attention,crossattention,intermediate,output}.*``).
"""

from vlkit.models.med.attention import (
    Attention,
    AttentionOutput,
    MultiHeadAttention,
    TwoImageAttentionOutput,
    TwoImageCrossAttention,
)
from vlkit.models.med.config import KV, MED_PRESETS, MedCache, MedConfig, MedLMOutput, MedOutput, med_config
from vlkit.models.med.decoder import LMPredictionHead, MedForCausalLM, lm_loss
from vlkit.models.med.encoder import MedEmbeddings, MedLayer, MedTextModel
from vlkit.models.med.sharing import SHARE_STRATEGIES, tie_text_weights

__all__ = [
    "Attention",
    "AttentionOutput",
    "KV",
    "LMPredictionHead",
    "MED_PRESETS",
    "MedCache",
    "MedConfig",
    "MedEmbeddings",
    "MedForCausalLM",
    "MedLMOutput",
    "MedLayer",
    "MedOutput",
    "MedTextModel",
    "MultiHeadAttention",
    "SHARE_STRATEGIES",
    "TwoImageAttentionOutput",
    "TwoImageCrossAttention",
    "lm_loss",
    "med_config",
    "tie_text_weights",
]

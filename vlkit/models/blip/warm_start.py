"""The warm start's weights under the BLIP keys they initialise (a ``tiny`` BLIP's ``model.pretrained``).

``warm_state_dict`` joins the state dicts of :class:`~vlkit.models.blip.warm_start_vision.BlipWarmStartVision`
and :class:`~vlkit.models.blip.warm_start_text.BlipWarmStartText` (models or runner checkpoints) into
``visual_encoder.*``, ``text_encoder.*`` and ``text_decoder.{bert,cls}.*``: the decoder starts from the
same text weights, as BLIP's does from BERT; cross-attention and everything else start random, as in BLIP.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

VISION_PREFIX = "visual_encoder."
TEXT_PREFIX = "text_encoder."
# the LM head's trained pieces; its decoder weight is the word embeddings, and the pre-training model's
# ``cls.predictions.bias`` is a stale buffer of another shape (vlkit/models/blip/retrieval.py)
HEAD_KEYS = ("cls.predictions.transform.", "cls.predictions.decoder.bias")


def warm_state_dict(vision: Mapping[str, torch.Tensor], text: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The trained encoders under BLIP's keys (the text weights also as the decoder's), detached on the CPU.

    Raises:
        KeyError: when ``vision`` has no ``visual_encoder.*`` or ``text`` no ``text_encoder.*`` weights.
    """
    out = {k: v for k, v in vision.items() if k.startswith(VISION_PREFIX)}
    if not out:
        raise KeyError("the vision state dict has no visual_encoder.* weights (a blip_warm_start_vision model?)")
    encoder = {k[len(TEXT_PREFIX) :]: v for k, v in text.items() if k.startswith(TEXT_PREFIX)}
    if not encoder:
        raise KeyError("the text state dict has no text_encoder.* weights (a blip_warm_start_text model?)")
    for k, v in encoder.items():
        out[f"text_encoder.{k}"] = out[f"text_decoder.bert.{k}"] = v
    out.update({f"text_decoder.{k}": v for k, v in text.items() if k.startswith(HEAD_KEYS)})
    return {k: v.detach().cpu().contiguous().clone() for k, v in out.items()}

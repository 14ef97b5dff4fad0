"""Parameter sharing between the text encoder and decoder (the paper's Table 3)."""

from __future__ import annotations

from vlkit.models.med.encoder import MedTextModel

SHARE_STRATEGIES = ("all_but_self_attention", "all", "none")


def tie_text_weights(encoder: MedTextModel, decoder: MedTextModel, strategy: str = "all_but_self_attention") -> None:
    """Make ``decoder`` share ``encoder``'s parameters (BLIP Table 3).

    ``all_but_self_attention`` (the paper's choice) shares embeddings, cross-attention and feed-forward and
    keeps each side's self-attention (``attention.*``); ``all`` shares everything; ``none`` shares nothing.
    Shared parameters are the same ``Parameter`` objects, so both key sets remain in the state dict.
    """
    if strategy not in SHARE_STRATEGIES:
        raise ValueError(f"share strategy {strategy!r} not in {SHARE_STRATEGIES} (model.share_strategy)")
    if strategy == "none":
        return
    decoder.embeddings = encoder.embeddings
    for enc_layer, dec_layer in zip(encoder.encoder.layer, decoder.encoder.layer, strict=True):
        for name in ("crossattention", "intermediate", "output") + (("attention",) if strategy == "all" else ()):
            if hasattr(enc_layer, name):
                setattr(dec_layer, name, getattr(enc_layer, name))

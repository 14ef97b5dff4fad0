"""``model.init_from``: start a BLIP model as the paper does, from an ImageNet ViT and BERT.

Every key of the model ends up in exactly one of four groups, and every key of each source is either used
or named as unused with the reason, so nothing is skipped silently (an unexplained key is an error):

- ``loaded``: copied from a source (``visual_encoder.*`` from the ViT; ``text_encoder.*`` and
  ``text_decoder.bert.*`` from ``bert.*``, ``text_decoder.cls.*`` from ``cls.*``); the word embeddings and
  the LM bias grow from BERT's 30,522 entries to 30,524 (``[DEC]``, ``[ENC]`` new, as ``resize_token_embeddings``);
- ``new``: newly initialised: cross-attention (BERT has none), BLIP's projections, ITM head, temperature and
  queues, and an encoder whose source is not given;
- ``copied``: the momentum encoders, copied from the loaded online encoders;
- for the sources, ``unused``: keys BLIP has no place for (token-type embeddings, ...), with reasons.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from vlkit.models.checkpoint import LoadReport
from vlkit.models.init_sources import InitFromError, read_text_source, read_vision_source

logger = logging.getLogger(__name__)

SOURCES = ("vision", "text")
MOMENTUM_PREFIXES = ("visual_encoder_m.", "vision_proj_m.", "text_encoder_m.", "text_proj_m.")
# BLIP prefix -> BERT prefix (BertLMHeadModel's layout)
TEXT_PREFIXES = (("text_encoder.", "bert."), ("text_decoder.bert.", "bert."), ("text_decoder.cls.", "cls."))
# rows appended by the [DEC]/[ENC] tokens: these keys may be longer in BLIP than in BERT
VOCAB_KEYS = ("word_embeddings.weight", "predictions.decoder.weight", "predictions.decoder.bias", "predictions.bias")
UNUSED_TEXT = {
    "bert.embeddings.token_type_embeddings.weight": "MED has no token-type (segment) embeddings, as in BLIP",
    "bert.embeddings.position_ids": "an index buffer (arange), not a weight",
    "bert.embeddings.token_type_ids": "an index buffer, not a weight",
}


@dataclass
class InitReport(LoadReport):
    """What ``init_from`` did, key by key (``missing_keys`` holds the ``new`` ones, for :class:`LoadReport` users)."""

    loaded: dict[str, str] = field(default_factory=dict)  # target -> source key
    resized: list[str] = field(default_factory=list)  # loaded targets with new [DEC]/[ENC] rows
    new: dict[str, str] = field(default_factory=dict)  # target -> why it is newly initialised
    copied: dict[str, str] = field(default_factory=dict)  # momentum target -> online key it copies
    unused: dict[str, str] = field(default_factory=dict)  # "vision:key" / "text:key" -> why it is not used

    def summary(self, limit: int = 10) -> str:
        reasons: dict[str, int] = {}
        for why in self.new.values():
            reasons[why] = reasons.get(why, 0) + 1
        new = "; ".join(f"{n} {why}" for why, n in reasons.items())
        return (
            f"initialised from {self.source}: {len(self.loaded)} keys loaded ({len(self.resized)} grown for "
            f"[DEC]/[ENC]), {len(self.copied)} momentum keys copied, {len(self.new)} new ({new}); "
            f"{len(self.unused)} source keys unused"
        )


def _new_reason(key: str, given: set[str]) -> str | None:
    if key.endswith("position_ids"):
        return "index buffer (arange)"
    if key.startswith("visual_encoder.") and "vision" not in given:
        return "model.init_from.vision not given"
    if key.startswith(("text_encoder.", "text_decoder.")) and "text" not in given:
        return "model.init_from.text not given"
    if ".crossattention." in key:
        return "cross-attention (BERT has none)"
    if not key.startswith(("visual_encoder.", "text_encoder.", "text_decoder.")):
        return "BLIP head or buffer (not part of ViT or BERT)"
    return None


def _source_of(key: str) -> tuple[str, str] | None:
    if key.startswith("visual_encoder."):
        return "vision", key[len("visual_encoder.") :]
    for ours, theirs in TEXT_PREFIXES:
        if key.startswith(ours):
            return "text", theirs + key[len(ours) :]
    return None


def _fit(key: str, own: torch.Tensor, src: torch.Tensor, label: str) -> tuple[torch.Tensor, bool]:
    """``src`` as ``own``'s value; vocabulary keys may be shorter (the extra rows keep their initial values)."""
    if own.shape == src.shape:
        return src.to(own.dtype), False
    grows = key.endswith(VOCAB_KEYS) and own.shape[1:] == src.shape[1:] and own.shape[0] > src.shape[0]
    if not grows:
        raise InitFromError(
            f"model.init_from: {label} has shape {tuple(src.shape)} but {key} needs {tuple(own.shape)}; the source "
            f"does not fit this model's size (model.vit / model.med)."
        )
    value = own.detach().clone()
    value[: src.shape[0]] = src.to(own.dtype)
    return value, True


def plan_init(
    own: dict[str, torch.Tensor],
    sources: dict[str, dict[str, torch.Tensor]],
    dropped: dict[str, str] | None = None,
    label: str = "init_from",
) -> tuple[dict[str, torch.Tensor], InitReport]:
    """Map ``sources`` (``"vision"``/``"text"`` → state dict) onto the model keys ``own``; every key accounted for.

    Returns:
        ``(values, report)``: the tensors to load (by model key) and what happened to every key.

    Raises:
        InitFromError: a model key with no source and no reason to be new, a source key used by nothing and not
            known to be unused, or a shape that does not fit.
    """
    report = InitReport(source=label, unused=dict(dropped or {}))
    values: dict[str, torch.Tensor] = {}
    used: set[tuple[str, str]] = set()
    given = set(sources)
    unexplained = []
    for key, tensor in own.items():
        if key.startswith(MOMENTUM_PREFIXES):
            report.copied[key] = key.replace("_m.", ".", 1)
            continue
        reason = _new_reason(key, given)
        if reason is not None:
            report.new[key] = reason
            continue
        mapped = _source_of(key)
        if mapped is None or mapped[1] not in sources[mapped[0]]:
            unexplained.append(key if mapped is None else f"{key} (expected {mapped[0]} key {mapped[1]!r})")
            continue
        which, src_key = mapped
        values[key], grown = _fit(key, tensor, sources[which][src_key], f"{which} key {src_key!r}")
        report.loaded[key] = f"{which}:{src_key}"
        if grown:
            report.resized.append(key)
        used.add((which, src_key))
    if unexplained:
        raise InitFromError(
            f"model.init_from: {len(unexplained)} model keys have no source weights: {', '.join(unexplained[:5])}. "
            f"The source is not a BERT / ViT of this layout."
        )
    stray = []
    for which, state in sources.items():
        for src_key in state:
            if (which, src_key) in used:
                continue
            if which == "text" and src_key in UNUSED_TEXT:
                report.unused[f"text:{src_key}"] = UNUSED_TEXT[src_key]
            else:
                stray.append(f"{which}:{src_key}")
    if stray:
        raise InitFromError(
            f"model.init_from: {len(stray)} source keys fit no model key: {', '.join(stray[:5])}. The source has "
            f"more layers or parts than this model (model.vit / model.med), or is not a ViT / BERT."
        )
    report.missing_keys = sorted(report.new)
    return values, report


def check_init_sources(sources: Any) -> dict[str, str]:
    """``model.init_from`` as a plain ``{"vision"?: str, "text"?: str}`` (raises naming an unknown key)."""
    spec = {str(k): v for k, v in dict(sources or {}).items() if v not in (None, "")}
    unknown = sorted(set(spec) - set(SOURCES))
    if unknown:
        raise InitFromError(f"model.init_from.{unknown[0]} is not a source; use `vision` and/or `text`.")
    return {k: str(v) for k, v in spec.items()}


def init_from_sources(model: nn.Module, sources: Any) -> InitReport:
    """Load ``model.init_from``'s ViT and BERT into a BLIP ``model`` (see the module docstring)."""
    spec = check_init_sources(sources)
    if not spec:
        raise InitFromError("model.init_from is empty: give `vision` (timm:<name> or a path) and/or `text`.")
    states: dict[str, dict[str, torch.Tensor]] = {}
    labels, dropped = [], {}
    if "vision" in spec:
        states["vision"], label, vision_dropped = read_vision_source(spec["vision"], model.visual_encoder.cfg)
        dropped.update(vision_dropped)
        labels.append(f"vision={label}")
    if "text" in spec:
        states["text"], label, text_dropped = read_text_source(spec["text"])
        dropped.update(text_dropped)
        labels.append(f"text={label}")
    own = model.state_dict()
    values, report = plan_init(own, states, dropped, ", ".join(labels))
    result = model.load_state_dict(values, strict=False)
    if result.unexpected_keys:  # plan_init only names model keys; this guards the invariant
        raise InitFromError(f"model.init_from: keys not in the model: {result.unexpected_keys[:5]}")
    model.after_load(list(report.copied))
    logger.info(report.summary())
    return report

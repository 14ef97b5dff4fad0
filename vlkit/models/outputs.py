"""What models return: a loss plus its separate terms, and feature bundles."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass
class ModelOutput:
    """Training output. ``loss`` is what the optimiser minimises; ``loss_*`` fields are its logged terms."""

    loss: torch.Tensor | None = None
    loss_itc: torch.Tensor | None = None
    loss_itm: torch.Tensor | None = None
    loss_lm: torch.Tensor | None = None
    loss_cls: torch.Tensor | None = None
    logits: torch.Tensor | None = None

    def losses(self) -> dict[str, float]:
        """Every loss term that is set, as floats (for logging)."""
        return {
            f.name: float(v.detach())
            for f in fields(self)
            if f.name.startswith("loss_") and (v := getattr(self, f.name)) is not None
        }


@dataclass
class BlipFeatures:
    """``extract_features`` output; ``*_proj`` are the normalised 256-d ITC projections of each token."""

    image_embeds: torch.Tensor | None = None
    image_embeds_proj: torch.Tensor | None = None
    text_embeds: torch.Tensor | None = None
    text_embeds_proj: torch.Tensor | None = None
    multimodal_embeds: torch.Tensor | None = None

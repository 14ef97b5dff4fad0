"""Linear read-outs of a scene from the ViT's [CLS] feature: which grid cells hold an object, and what.

The label vector (``[B, cells + cells * len(attributes) + 1]``) holds an occupancy flag per cell, then per
attribute one class per cell (-1 where the cell is empty), then the background class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class SceneLogits:
    """The heads' scores: ``occupied`` ``[B, cells]``, per attribute ``[B, cells, classes]``, ``background``."""

    occupied: torch.Tensor
    attributes: dict[str, torch.Tensor]
    background: torch.Tensor


class SceneHeads(nn.Module):
    """Cell, per-cell attribute and background heads (thrown away after the warm start).

    Attributes are scored only in occupied cells: with an "empty" class the mostly empty grid makes
    "every cell empty" a plateau the ViT takes hundreds of steps to leave.

    Args:
        width: The [CLS] feature's width.
        cells: Grid cells.
        attributes: Classes per attribute (the label vector's order).
        backgrounds: Background classes.
    """

    def __init__(self, width: int, cells: int, attributes: dict[str, int], backgrounds: int) -> None:
        super().__init__()
        self.num_cells = cells
        self.sizes = dict(attributes)
        self.occupied = nn.Linear(width, cells)
        self.cells = nn.ModuleDict({k: nn.Linear(width, cells * n) for k, n in self.sizes.items()})
        self.background = nn.Linear(width, backgrounds)

    @property
    def label_width(self) -> int:
        return self.num_cells * (1 + len(self.sizes)) + 1

    def forward(self, feats: torch.Tensor) -> SceneLogits:
        attributes = {k: self.cells[k](feats).view(-1, self.num_cells, n) for k, n in self.sizes.items()}
        return SceneLogits(self.occupied(feats), attributes, self.background(feats))

    def _split(self, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
        if labels.shape[-1] != self.label_width:
            raise ValueError(
                f"scene labels have {labels.shape[-1]} entries but the heads read {self.label_width} "
                "(model.scene_cells / scene_attributes must match the dataset)"
            )
        c = self.num_cells
        attrs = {k: labels[:, (j + 1) * c : (j + 2) * c] for j, k in enumerate(self.sizes)}
        return labels[:, :c], attrs, labels[:, -1]

    def loss(self, logits: SceneLogits, labels: torch.Tensor) -> torch.Tensor:
        """Cells (a softmax over the cells against the occupied ones) + attributes of occupied cells + background.

        For one object the cell term is "which cell"; per-cell binary losses sit on the all-empty plateau far longer.
        """
        occupied, attrs, background = self._split(labels)
        target = occupied.float() / occupied.sum(1, keepdim=True).clamp(min=1)
        loss = -(target * F.log_softmax(logits.occupied, dim=-1)).sum(-1).mean()
        mask = occupied.bool()
        for name, scores in logits.attributes.items():
            loss = loss + F.cross_entropy(scores[mask], attrs[name][mask])
        return loss + F.cross_entropy(logits.background, background)

    @torch.no_grad()
    def hits(self, logits: SceneLogits, labels: torch.Tensor) -> dict[str, tuple[int, int]]:
        """``(correct, scored)`` per read-out: ``cell`` (the top cell holds an object), each attribute over the
        occupied cells, ``background``."""
        occupied, attrs, background = self._split(labels)
        out = {"cell": (int(occupied.gather(1, logits.occupied.argmax(-1, keepdim=True)).sum()), len(labels))}
        mask = occupied.bool()
        for name, scores in logits.attributes.items():
            out[name] = (int((scores[mask].argmax(-1) == attrs[name][mask]).sum()), int(mask.sum()))
        out["background"] = (int((logits.background.argmax(-1) == background).sum()), len(labels))
        return out

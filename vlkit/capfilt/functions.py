"""The three functions a CapFilt job runs on: write captions, score matches, turn an image into a tensor.

:mod:`vlkit.capfilt.models` builds them from vlkit models; tests and other backends pass their own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# captioner(images [B,3,H,W], num_captions) -> B lists of captions; filter(images [N,3,H,W], texts) -> match probs [N]
CaptionFn = Callable[[torch.Tensor, int], list[list[str]]]
MatchFn = Callable[[torch.Tensor, list[str]], torch.Tensor]
TransformFn = Callable[[Any], torch.Tensor]

"""RandAugment as BLIP trains with it, implemented with OpenCV on ``uint8`` ``[H, W, 3]`` arrays.

Semantics follow BLIP's ``transform/randaugment.py``: ``num_ops`` ops are drawn with replacement from the
op list, each is applied with probability 0.5 at the fixed level ``magnitude`` out of 10. At BLIP's
``RandAugment(2, 5)`` that means: Brightness/Sharpness factor 1.0 (a no-op: the factor is
``level / 10 * 1.8 + 0.1``), shear ±0.15, translation ±5 **pixels** (independent of the image size), rotation
±15°. Geometric ops fill uncovered pixels with grey (128, 128, 128).

Randomness comes from torch's RNG (global, or an explicit ``torch.Generator``), like every vlkit processor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import torch

FILL = (128, 128, 128)
MAX_LEVEL = 10
TRANSLATE_CONST = 10  # pixels at level MAX_LEVEL
BLIP_OPS = (
    "Identity",
    "AutoContrast",
    "Brightness",
    "Sharpness",
    "Equalize",
    "ShearX",
    "ShearY",
    "TranslateX",
    "TranslateY",
    "Rotate",
)


def _cv2() -> ModuleType:
    """OpenCV, imported lazily so that `import vlkit.processors` does not load it."""
    import cv2

    return cv2


def _apply_luts(img: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """Map each channel of ``img`` through its own 256-entry table (``luts`` is ``[C, 256]`` or ``[256]``)."""
    luts = np.asarray(luts, dtype=np.uint8)
    if luts.ndim == 2:
        luts = np.ascontiguousarray(luts.T.reshape(1, 256, -1))
    return _cv2().LUT(img, luts).reshape(img.shape)


def identity(img: np.ndarray, _: float = 0.0) -> np.ndarray:
    """Return ``img`` unchanged."""
    return img


def auto_contrast(img: np.ndarray, _: float = 0.0) -> np.ndarray:
    """Stretch each channel linearly so its min maps to 0 and its max to 255 (flat channels are kept)."""
    cv2 = _cv2()
    levels = np.arange(256, dtype=np.float64)
    luts = []
    for channel in cv2.split(img):
        lo, hi = cv2.minMaxLoc(channel)[:2]  # ~20x faster than numpy's min/max over the H, W axes
        if hi <= lo:
            luts.append(levels)
            continue
        scale = 255.0 / (hi - lo)
        luts.append(np.clip((levels - lo) * scale, 0, 255))
    return _apply_luts(img, np.stack(luts).astype(np.uint8))


def equalize(img: np.ndarray, _: float = 0.0) -> np.ndarray:
    """Histogram-equalise each channel the way ``PIL.ImageOps.equalize`` does (not ``cv2.equalizeHist``)."""
    cv2 = _cv2()
    luts = []
    for c in range(img.shape[2]):
        hist = cv2.calcHist([img], [c], None, [256], [0, 256]).ravel().astype(np.int64)
        used = hist[hist > 0]
        step = int(used[:-1].sum()) // 255
        if step == 0:
            luts.append(np.arange(256))
            continue
        shifted = np.concatenate([[step // 2], hist[:-1]])
        luts.append(np.clip(np.cumsum(shifted) // step, 0, 255))
    return _apply_luts(img, np.stack(luts))


def brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """Scale intensities by ``factor`` (``PIL.ImageEnhance.Brightness``)."""
    if factor == 1.0:  # BLIP's magnitude 5 lands exactly here
        return img
    return _apply_luts(img, np.clip(np.arange(256) * factor, 0, 255))


def sharpness(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with a smoothed copy (``PIL.ImageEnhance.Sharpness``): 0 = smooth, 1 = original, >1 = sharper.

    Border pixels are left unchanged, as PIL does.
    """
    if factor == 1.0:
        return img
    cv2 = _cv2()
    kernel = np.ones((3, 3), dtype=np.float32)
    kernel[1, 1] = 5.0
    smooth = cv2.filter2D(img, -1, kernel / kernel.sum())
    out = img.copy()
    inner = (slice(1, -1), slice(1, -1))
    out[inner] = cv2.addWeighted(img[inner], factor, smooth[inner], 1.0 - factor, 0.0)
    return out


def _warp(img: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    height, width = img.shape[:2]
    return cv2.warpAffine(
        img, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=FILL
    ).reshape(img.shape)


def shear_x(img: np.ndarray, factor: float) -> np.ndarray:
    """Move pixel ``(x, y)`` to ``(x + factor * y, y)`` (shear about the top edge)."""
    return _warp(img, np.float32([[1, factor, 0], [0, 1, 0]]))


def shear_y(img: np.ndarray, factor: float) -> np.ndarray:
    """Move pixel ``(x, y)`` to ``(x, y + factor * x)`` (shear about the left edge)."""
    return _warp(img, np.float32([[1, 0, 0], [factor, 1, 0]]))


def translate_x(img: np.ndarray, pixels: float) -> np.ndarray:
    """Move the content ``pixels`` to the right (left if negative)."""
    return _warp(img, np.float32([[1, 0, pixels], [0, 1, 0]]))


def translate_y(img: np.ndarray, pixels: float) -> np.ndarray:
    """Move the content ``pixels`` down (up if negative)."""
    return _warp(img, np.float32([[1, 0, 0], [0, 1, pixels]]))


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate counter-clockwise (as displayed) by ``degrees`` about the image centre ``(W/2, H/2)``."""
    height, width = img.shape[:2]
    return _warp(img, _cv2().getRotationMatrix2D((width / 2, height / 2), degrees, 1.0))


class OpSpec(NamedTuple):
    """An op: its function, the argument at a level, and whether the argument's sign is drawn at random."""

    fn: Callable[[np.ndarray, float], np.ndarray]
    level_to_arg: Callable[[float], float]
    random_sign: bool


OPS: dict[str, OpSpec] = {
    "Identity": OpSpec(identity, lambda level: 0.0, False),
    "AutoContrast": OpSpec(auto_contrast, lambda level: 0.0, False),
    "Equalize": OpSpec(equalize, lambda level: 0.0, False),
    "Brightness": OpSpec(brightness, lambda level: level / MAX_LEVEL * 1.8 + 0.1, False),
    "Sharpness": OpSpec(sharpness, lambda level: level / MAX_LEVEL * 1.8 + 0.1, False),
    "ShearX": OpSpec(shear_x, lambda level: level / MAX_LEVEL * 0.3, True),
    "ShearY": OpSpec(shear_y, lambda level: level / MAX_LEVEL * 0.3, True),
    "TranslateX": OpSpec(translate_x, lambda level: level / MAX_LEVEL * TRANSLATE_CONST, True),
    "TranslateY": OpSpec(translate_y, lambda level: level / MAX_LEVEL * TRANSLATE_CONST, True),
    "Rotate": OpSpec(rotate, lambda level: level / MAX_LEVEL * 30.0, True),
}


@dataclass(frozen=True)
class AugOp:
    """One sampled op with its (signed) argument: degrees, shear factor, pixels or enhance factor."""

    name: str
    arg: float = 0.0


class RandAugment:
    """BLIP's RandAugment.

    Args:
        num_ops: Ops drawn (with replacement) per image.
        magnitude: Level of every op, out of ``MAX_LEVEL`` (10).
        ops: Names from :data:`OPS` to draw from; defaults to BLIP's list.
        prob: Probability that each drawn op is applied.
    """

    def __init__(
        self, num_ops: int = 2, magnitude: float = 5, ops: Sequence[str] = BLIP_OPS, prob: float = 0.5
    ) -> None:
        unknown = [name for name in ops if name not in OPS]
        if unknown:
            raise ValueError(f"Unknown RandAugment op(s) {unknown}; available: {', '.join(OPS)}.")
        if not ops:
            raise ValueError("RandAugment needs at least one op.")
        if num_ops < 0 or not 0 <= magnitude <= MAX_LEVEL:
            raise ValueError(f"RandAugment needs num_ops >= 0 and 0 <= magnitude <= {MAX_LEVEL}.")
        self.num_ops, self.magnitude, self.ops, self.prob = num_ops, magnitude, tuple(ops), prob

    def sample(self, generator: torch.Generator | None = None) -> list[AugOp]:
        """Draw the ops to apply (those that passed their coin flip), with their signed arguments."""
        import torch

        picks = torch.randint(len(self.ops), (self.num_ops,), generator=generator).tolist()
        coins = torch.rand(self.num_ops, 2, generator=generator).tolist()
        chosen = []
        for pick, (apply_coin, sign_coin) in zip(picks, coins):
            if apply_coin >= self.prob:
                continue
            name = self.ops[pick]
            spec = OPS[name]
            arg = spec.level_to_arg(self.magnitude)
            chosen.append(AugOp(name, -arg if spec.random_sign and sign_coin < 0.5 else arg))
        return chosen

    @staticmethod
    def apply(img: np.ndarray, ops: Sequence[AugOp]) -> np.ndarray:
        """Apply sampled ``ops`` in order to a ``uint8`` ``[H, W, 3]`` image (the same ops for every video frame)."""
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"RandAugment expects a uint8 [H, W, 3] array, got {img.dtype} {tuple(img.shape)}.")
        for op in ops:
            img = OPS[op.name].fn(img, op.arg)
        return img

    def __call__(self, img: np.ndarray, generator: torch.Generator | None = None) -> np.ndarray:
        return self.apply(img, self.sample(generator))

    def __repr__(self) -> str:
        return f"RandAugment(num_ops={self.num_ops}, magnitude={self.magnitude}, ops={list(self.ops)})"

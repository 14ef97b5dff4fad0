"""Image processors: ``blip_image_eval`` (square bicubic resize) and ``blip_image_train`` (BLIP augmentation).

Both take a PIL image (converted to RGB if needed) or a ``uint8`` ``[H, W, 3]`` RGB array and return a
normalised ``float32`` tensor ``[3, S, S]``.

Seeding: every random draw (crop box, flip, RandAugment) uses torch's RNG — the global one, seeded by
``torch.manual_seed`` (and per DataLoader worker by PyTorch), or the ``generator`` passed to ``__call__``.
numpy's and Python's RNGs are not used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from PIL import Image

from vlkit.processors.base_processor import BaseProcessor, register_processor
from vlkit.processors.randaugment import BLIP_OPS, MAX_LEVEL, AugOp, RandAugment

if TYPE_CHECKING:
    import torch

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
ImageInput = Image.Image | np.ndarray


@dataclass
class BlipImageEvalConfig:
    """Options of ``blip_image_eval`` (and the base of every image/video processor config)."""

    image_size: int = 384
    mean: list[float] = field(default_factory=lambda: list(CLIP_MEAN))
    std: list[float] = field(default_factory=lambda: list(CLIP_STD))

    def __post_init__(self) -> None:
        if self.image_size < 1:
            raise ValueError(f"image_size must be >= 1, got {self.image_size}.")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean and std need 3 values each (std > 0), got mean={self.mean}, std={self.std}.")


@dataclass
class BlipImageTrainConfig(BlipImageEvalConfig):
    """Options of ``blip_image_train``: random resized crop, horizontal flip, RandAugment."""

    min_scale: float = 0.5  # crop area range, as a fraction of the image area
    max_scale: float = 1.0
    hflip_prob: float = 0.5
    randaug_num_ops: int = 2
    randaug_magnitude: int = 5  # out of 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.min_scale <= self.max_scale <= 1:
            raise ValueError(f"Need 0 < min_scale <= max_scale <= 1, got {self.min_scale}, {self.max_scale}.")
        if not 0 <= self.randaug_magnitude <= MAX_LEVEL or self.randaug_num_ops < 0:
            raise ValueError(f"Need randaug_num_ops >= 0 and 0 <= randaug_magnitude <= {MAX_LEVEL}.")


def to_rgb_image(image: ImageInput) -> Image.Image:
    """A PIL RGB image from a PIL image of any mode or a ``uint8`` ``[H, W, 3]`` RGB array."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"Expected a uint8 [H, W, 3] RGB array, got {image.dtype} {tuple(image.shape)}.")
        return Image.fromarray(image)
    if not isinstance(image, Image.Image):
        raise TypeError(f"Expected a PIL image or a numpy array, got {type(image).__name__}.")
    return image if image.mode == "RGB" else image.convert("RGB")


def normalize_to_tensor(pixels: np.ndarray, mean: list[float], std: list[float]) -> torch.Tensor:
    """``uint8`` ``[..., H, W, 3]`` → ``float32`` ``[..., 3, H, W]``, scaled to [0, 1] then normalised.

    Equivalent to torchvision's ``ToTensor`` + ``Normalize`` up to float rounding (one fused multiply-add).
    """
    import torch

    scale = 1.0 / (255.0 * np.asarray(std, dtype=np.float32))
    shift = np.asarray(mean, dtype=np.float32) / np.asarray(std, dtype=np.float32)
    out = pixels.astype(np.float32) * scale - shift
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(out, -1, -3)))


def resize_square(image: Image.Image, size: int) -> np.ndarray:
    """Bicubic resize to ``size × size`` (aspect ratio not kept, as BLIP does), as a uint8 array."""
    return np.asarray(image.resize((size, size), Image.BICUBIC))


@register_processor("blip_image_eval")
class BlipImageEvalProcessor(BaseProcessor):
    """Bicubic resize to a square ``image_size`` and normalise; returns ``Tensor[3, S, S]``."""

    CONFIG_CLASS = BlipImageEvalConfig
    config: BlipImageEvalConfig

    def transform_pixels(self, image: ImageInput) -> np.ndarray:
        """The resized ``uint8`` ``[S, S, 3]`` image, before normalisation."""
        return resize_square(to_rgb_image(image), self.config.image_size)

    def __call__(self, image: ImageInput) -> torch.Tensor:
        return normalize_to_tensor(self.transform_pixels(image), self.config.mean, self.config.std)


class CropBox(NamedTuple):
    left: int
    top: int
    width: int
    height: int


class TrainAugmentation(NamedTuple):
    """The random choices for one image (or for every frame of one video)."""

    box: CropBox
    flip: bool
    ops: list[AugOp]


def sample_crop_box(
    width: int,
    height: int,
    scale: tuple[float, float],
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> CropBox:
    """Draw a random-resized-crop box the way torchvision's ``RandomResizedCrop`` does.

    Up to 10 tries for a box with area fraction in ``scale`` and log-uniform aspect ratio in ``ratio`` that fits;
    otherwise a centred crop with the aspect ratio clamped to ``ratio``.
    """
    import torch

    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1], generator=generator).item()
        aspect = math.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=generator).item())
        w = round(math.sqrt(target_area * aspect))
        h = round(math.sqrt(target_area / aspect))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator).item())
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator).item())
            return CropBox(left, top, w, h)
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif in_ratio > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    return CropBox((width - w) // 2, (height - h) // 2, w, h)


@register_processor("blip_image_train")
class BlipImageTrainProcessor(BlipImageEvalProcessor):
    """Random resized crop (bicubic) → horizontal flip → RandAugment (OpenCV) → normalise.

    Returns ``Tensor[3, S, S]``. See the module docstring for seeding.
    """

    CONFIG_CLASS = BlipImageTrainConfig
    config: BlipImageTrainConfig

    def __init__(self, config: BlipImageTrainConfig | None = None) -> None:
        super().__init__(config)
        self.randaugment = RandAugment(self.config.randaug_num_ops, self.config.randaug_magnitude, BLIP_OPS)

    def sample(self, width: int, height: int, generator: torch.Generator | None = None) -> TrainAugmentation:
        """Draw the crop box, flip and RandAugment ops for an image of this size."""
        import torch

        box = sample_crop_box(width, height, (self.config.min_scale, self.config.max_scale), generator=generator)
        flip = torch.rand(1, generator=generator).item() < self.config.hflip_prob
        return TrainAugmentation(box, flip, self.randaugment.sample(generator))

    def augment(self, image: ImageInput, aug: TrainAugmentation) -> np.ndarray:
        """Apply drawn choices ``aug``; returns the ``uint8`` ``[S, S, 3]`` image before normalisation."""
        image = to_rgb_image(image)
        left, top, w, h = aug.box
        pixels = resize_square(image.crop((left, top, left + w, top + h)), self.config.image_size)
        if aug.flip:
            # Flipping after the resize instead of before gives the same pixels and touches fewer of them.
            pixels = pixels[:, ::-1]
        return self.randaugment.apply(np.ascontiguousarray(pixels), aug.ops)

    def transform_pixels(self, image: ImageInput, generator: torch.Generator | None = None) -> np.ndarray:
        image = to_rgb_image(image)
        return self.augment(image, self.sample(image.width, image.height, generator))

    def __call__(self, image: ImageInput, generator: torch.Generator | None = None) -> torch.Tensor:
        return normalize_to_tensor(self.transform_pixels(image, generator), self.config.mean, self.config.std)

"""Image processors against torchvision references, and the train transform's randomness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

from vlkit.processors.image import (
    CLIP_MEAN,
    CLIP_STD,
    BlipImageEvalProcessor,
    BlipImageTrainProcessor,
    sample_crop_box,
)


@pytest.fixture
def image() -> Image.Image:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 90)[None, :, None] * np.ones((70, 1, 3))
    return Image.fromarray((ramp + rng.normal(0, 20, (70, 90, 3))).clip(0, 255).astype(np.uint8))


def test_eval_matches_torchvision_resize_normalize(image: Image.Image) -> None:
    # Reference: torchvision Resize((S, S), bicubic) + ToTensor + Normalize(CLIP mean/std) on the same PIL image.
    reference = T.Compose(
        [T.Resize((48, 48), interpolation=InterpolationMode.BICUBIC), T.ToTensor(), T.Normalize(CLIP_MEAN, CLIP_STD)]
    )(image)
    out = BlipImageEvalProcessor.from_config({"image_size": 48})(image)
    assert out.shape == (3, 48, 48) and out.dtype == torch.float32
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=0)


def test_eval_accepts_grey_and_arrays(image: Image.Image) -> None:
    proc = BlipImageEvalProcessor.from_config({"image_size": 16})
    assert proc(image.convert("L")).shape == (3, 16, 16)
    torch.testing.assert_close(proc(np.asarray(image)), proc(image))
    with pytest.raises(ValueError, match="uint8"):
        proc(np.zeros((4, 4), dtype=np.float32))


def test_train_output_and_seeding(image: Image.Image) -> None:
    proc = BlipImageTrainProcessor.from_config({"image_size": 32})
    torch.manual_seed(3)
    first = proc(image)
    torch.manual_seed(3)
    second = proc(image)
    assert first.shape == (3, 32, 32) and first.dtype == torch.float32
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    seeded = [proc(image, generator=torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    torch.testing.assert_close(seeded[0], seeded[1], rtol=0, atol=0)
    assert not torch.equal(seeded[0], seeded[2])


def test_train_without_randomness_equals_eval(image: Image.Image) -> None:
    square = image.resize((64, 64))
    fixed = {"image_size": 24, "min_scale": 1.0, "max_scale": 1.0, "randaug_num_ops": 0}
    expected = BlipImageEvalProcessor.from_config({"image_size": 24})(square)
    torch.testing.assert_close(BlipImageTrainProcessor.from_config({**fixed, "hflip_prob": 0.0})(square), expected)
    flipped = BlipImageTrainProcessor.from_config({**fixed, "hflip_prob": 1.0})(square)
    torch.testing.assert_close(flipped, expected.flip(-1))


def test_crop_box_matches_torchvision_get_params(image: Image.Image) -> None:
    for seed in range(20):
        torch.manual_seed(seed)
        top, left, h, w = T.RandomResizedCrop.get_params(image, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3))
        torch.manual_seed(seed)
        assert sample_crop_box(image.width, image.height, (0.5, 1.0)) == (left, top, w, h)


def test_crop_box_in_bounds_for_extreme_shapes() -> None:
    gen = torch.Generator().manual_seed(0)
    for width, height in [(400, 20), (20, 400), (5, 5)]:
        for _ in range(20):
            left, top, w, h = sample_crop_box(width, height, (0.5, 1.0), generator=gen)
            assert 0 <= left and left + w <= width and 0 <= top and top + h <= height and w > 0 and h > 0

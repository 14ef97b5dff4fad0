"""Each RandAugment op does what it says; the sampler draws BLIP's ops at BLIP's magnitudes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageOps

from vlkit.processors import randaugment as ra


def marked(height: int = 41, width: int = 41, x: int = 30, y: int = 20) -> np.ndarray:
    """A dark image with a 3×3 white mark centred on (x, y)."""
    img = np.full((height, width, 3), 20, dtype=np.uint8)
    img[y - 1 : y + 2, x - 1 : x + 2] = 255
    return img


def mark_position(img: np.ndarray) -> tuple[float, float]:
    """(x, y) centroid of the bright pixels."""
    ys, xs = np.nonzero(img[..., 0] > 150)
    return float(xs.mean()), float(ys.mean())


def test_identity_is_identity() -> None:
    img = marked()
    assert ra.identity(img) is img


@pytest.mark.parametrize(
    ("fn", "arg", "expected"),
    [
        (ra.translate_x, 5.0, (35, 20)),
        (ra.translate_x, -5.0, (25, 20)),
        (ra.translate_y, 5.0, (30, 25)),
        (ra.shear_x, 0.15, (33, 20)),  # x + 0.15 * y
        (ra.shear_y, 0.15, (30, 24.5)),  # y + 0.15 * x
        (ra.rotate, 90.0, (20.5, 10.5)),  # counter-clockwise about (20.5, 20.5): right of centre moves up
        (ra.rotate, -90.0, (20.5, 30.5)),
    ],
)
def test_geometric_ops_move_the_mark(
    fn: Callable[[np.ndarray, float], np.ndarray], arg: float, expected: tuple[float, float]
) -> None:
    x, y = mark_position(fn(marked(), arg))
    assert abs(x - expected[0]) <= 0.6 and abs(y - expected[1]) <= 0.6


def test_geometric_ops_fill_with_grey() -> None:
    out = ra.translate_x(marked(), 5.0)
    assert (out[:, :5] == 128).all() and (out[:, 6:] != 128).all()
    assert (ra.rotate(marked(), 45.0)[0, 0] == 128).all()


def test_equalize_flattens_histogram_like_pil() -> None:
    rng = np.random.default_rng(0)
    img = rng.normal(110, 8, (40, 50, 3)).clip(0, 255).astype(np.uint8)
    out = ra.equalize(img)
    assert np.array_equal(out, np.asarray(ImageOps.equalize(Image.fromarray(img))))
    assert out.min() < 20 and out.max() > 235  # a narrow histogram is spread over the full range
    # Close to uniform on [0, 255] (std 73.6) instead of the input's std of ~8.
    assert img.std() < 10 and abs(out.std() - 73.6) < 8 and abs(out.mean() - 127.5) < 15


def test_equalize_keeps_flat_image() -> None:
    flat = np.full((8, 8, 3), 77, dtype=np.uint8)
    assert np.array_equal(ra.equalize(flat), flat) and np.array_equal(ra.auto_contrast(flat), flat)


def test_auto_contrast_stretches_to_full_range() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(60, 180, (30, 30, 3), dtype=np.uint8)
    out = ra.auto_contrast(img)
    assert (out.min(axis=(0, 1)) == 0).all() and (out.max(axis=(0, 1)) == 255).all()
    # PIL rounds where BLIP's OpenCV version truncates: at most 1 level apart.
    assert np.abs(out.astype(int) - np.asarray(ImageOps.autocontrast(Image.fromarray(img)))).max() <= 1


@pytest.mark.parametrize("factor", [0.3, 1.0, 1.7])
def test_brightness_and_sharpness_match_pil(factor: float) -> None:
    img = np.random.default_rng(2).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    pil = Image.fromarray(img)
    assert np.array_equal(ra.brightness(img, factor), np.asarray(ImageEnhance.Brightness(pil).enhance(factor)))
    sharp = ra.sharpness(img, factor).astype(int)
    ref = np.asarray(ImageEnhance.Sharpness(pil).enhance(factor)).astype(int)
    assert np.abs(sharp - ref)[1:-1, 1:-1].max() <= 1
    assert np.array_equal(sharp[0], img[0])  # borders untouched


def test_sampler_uses_blip_ops_and_magnitudes() -> None:
    aug = ra.RandAugment(2, 5)
    gen = torch.Generator().manual_seed(0)
    draws = [aug.sample(gen) for _ in range(400)]
    flat = [op for ops in draws for op in ops]
    assert 0.4 < len(flat) / (2 * len(draws)) < 0.6  # each drawn op applied with probability 0.5
    assert {op.name for op in flat} == set(ra.BLIP_OPS)
    args = {(op.name, op.arg) for op in flat}
    for name, magnitude in [("Rotate", 15.0), ("ShearX", 0.15), ("TranslateY", 5.0)]:
        assert {(name, magnitude), (name, -magnitude)} <= args
    assert {arg for name, arg in args if name in ("Brightness", "Sharpness")} == {1.0}
    assert aug.sample(torch.Generator().manual_seed(7)) == aug.sample(torch.Generator().manual_seed(7))


def test_randaugment_validation() -> None:
    with pytest.raises(ValueError, match="Unknown RandAugment op"):
        ra.RandAugment(ops=["Rotate", "Solarise"])
    with pytest.raises(ValueError, match="uint8"):
        ra.RandAugment()(np.zeros((4, 4, 3), dtype=np.float32))
    img = marked()
    out = ra.RandAugment(2, 5)(img, torch.Generator().manual_seed(0))
    assert out.shape == img.shape and out.dtype == np.uint8

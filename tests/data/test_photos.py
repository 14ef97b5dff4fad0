"""Images decode as a photo viewer shows them, for files written the way cameras, phones and tools write them."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.data.icc_profiles import SRGB_BLUE, SRGB_GREEN, SRGB_RED, rgb_profile
from vlkit.data.io import BadSampleError, load_image

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def _upright() -> np.ndarray:
    """A 32x48 (h x w) picture whose every orientation differs: red top-left, green top-right, blue bottom."""
    img = np.zeros((32, 48, 3), np.uint8)
    img[:16, :24], img[:16, 24:], img[16:] = RED, GREEN, BLUE
    return img


# stored pixels = the inverse of what EXIF orientation N asks a viewer to do
STORED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, 1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, -1),
}


def _corners(img: Image.Image) -> list[tuple[int, ...]]:
    a = np.asarray(img).astype(int)
    h, w = a.shape[:2]
    return [tuple(int(round(v / 85.0)) * 85 for v in a[y, x]) for y, x in ((4, 4), (4, w - 5), (h - 5, w // 2))]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_a_camera_viewer(tmp_path: Path, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif[0x0110] = orientation, "Canon", "Canon EOS 5D"  # Orientation, Make, Model
    path = tmp_path / f"IMG_{orientation}.JPG"
    Image.fromarray(np.ascontiguousarray(STORED[orientation](_upright()))).save(path, exif=exif, quality=95)
    img = load_image(path)
    assert img.size == (48, 32)
    assert _corners(img) == [RED, GREEN, BLUE]
    opencv_view = cv2.imread(str(path))[..., ::-1]  # OpenCV applies EXIF orientation too
    assert _corners(Image.fromarray(opencv_view)) == _corners(img)


def test_icc_profile_is_converted_to_srgb(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    swapped = rgb_profile("red and green swapped", SRGB_GREEN, SRGB_RED, SRGB_BLUE)
    Image.new("RGB", (8, 8), RED).save(tmp_path / "p3.jpg", icc_profile=swapped, quality=95)
    assert _corners(load_image(tmp_path / "p3.jpg")) == [GREEN] * 3  # stored red means green in that space
    rgba = Image.new("RGBA", (8, 8), (*RED, 255))
    rgba.save(tmp_path / "p3.png", icc_profile=swapped)
    assert _corners(load_image(tmp_path / "p3.png")) == [GREEN] * 3
    srgb = rgb_profile("sRGB IEC61966-2.1", SRGB_RED, SRGB_GREEN, SRGB_BLUE)
    Image.new("RGB", (8, 8), (200, 100, 50)).save(tmp_path / "srgb.png", icc_profile=srgb)
    assert load_image(tmp_path / "srgb.png").getpixel((0, 0)) == (200, 100, 50)
    Image.new("RGB", (8, 8), RED).save(tmp_path / "broken.png", icc_profile=b"not a profile")
    with caplog.at_level(logging.WARNING, logger="vlkit.data"):
        assert load_image(tmp_path / "broken.png").getpixel((0, 0)) == RED
        load_image(tmp_path / "broken.png")
    assert sum("broken.png: its ICC colour profile cannot be applied" in r.message for r in caplog.records) == 1


def test_progressive_and_opencv_jpegs(tmp_path: Path) -> None:
    Image.fromarray(_upright()).save(tmp_path / "pil.jpg", progressive=True, quality=90)
    cv2.imwrite(str(tmp_path / "cv.jpg"), _upright()[..., ::-1], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    cv2.imwrite(str(tmp_path / "cv.png"), _upright()[..., ::-1])
    for name in ("pil.jpg", "cv.jpg", "cv.png"):
        assert _corners(load_image(tmp_path / name)) == [RED, GREEN, BLUE], name


def test_cmyk_jpeg_from_print_tools(tmp_path: Path) -> None:
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "print.jpg", quality=95)  # Adobe-style CMYK
    assert Image.open(tmp_path / "print.jpg").mode == "CMYK"
    assert _corners(load_image(tmp_path / "print.jpg")) == [RED] * 3
    assert _corners(Image.fromarray(cv2.imread(str(tmp_path / "print.jpg"))[..., ::-1])) == [RED] * 3


def test_sixteen_bit_maps_its_full_range_like_a_viewer(tmp_path: Path) -> None:
    gray = np.array([[0, 32896, 65535, 257]], np.uint16).repeat(4, axis=0)
    Image.fromarray(gray).save(tmp_path / "pil16.png")
    cv2.imwrite(str(tmp_path / "cv16.png"), gray)
    for name in ("pil16.png", "cv16.png"):
        assert np.asarray(load_image(tmp_path / name))[0, :, 0].tolist() == [0, 128, 255, 1], name
    colour = np.zeros((4, 4, 3), np.uint16)
    colour[..., 2] = 65535  # BGR: red
    cv2.imwrite(str(tmp_path / "cv16rgb.png"), colour)
    cv2.imwrite(str(tmp_path / "cv16rgb.tif"), colour)
    assert load_image(tmp_path / "cv16rgb.png").getpixel((0, 0)) == RED
    assert load_image(tmp_path / "cv16rgb.tif").getpixel((0, 0)) == RED


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animations_give_their_first_frame(tmp_path: Path, fmt: str) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in (RED, BLUE, GREEN)]
    path = tmp_path / f"anim.{fmt.lower()}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    assert getattr(Image.open(path), "n_frames", 1) == 3
    assert load_image(path).getpixel((4, 4)) == RED


@pytest.mark.parametrize("fmt,keep", [("JPEG", 0.5), ("PNG", 0.5), ("JPEG", 0.9)])
def test_truncated_files_decode_what_they_hold(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fmt: str, keep: float
) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format=fmt)
    data = buf.getvalue()[: int(len(buf.getvalue()) * keep)]
    with caplog.at_level(logging.WARNING, logger="vlkit.data"):
        img = load_image(data, name=f"cut-{fmt}-{keep}")
        load_image(data, name=f"cut-{fmt}-{keep}")
    assert img.size == (64, 64) and img.mode == "RGB"
    complete = np.asarray(load_image(buf.getvalue(), name="complete")).astype(int)
    assert np.array_equal(np.asarray(img)[:8], complete[:8])  # the rows that are there decode as written
    assert not np.array_equal(np.asarray(img)[-8:], complete[-8:])
    assert sum("image file is truncated" in r.message for r in caplog.records) == 1


def test_a_file_cut_inside_its_header_is_a_bad_sample() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), WHITE).save(buf, format="JPEG")
    with pytest.raises(BadSampleError, match="cut.jpg: cannot decode image"):
        load_image(buf.getvalue()[:20], name="cut.jpg")

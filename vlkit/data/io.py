"""Reading images and captions robustly: every failure names the file and the problem."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from vlkit.data.photo import to_rgb, to_srgb, upright, warn_truncated

DEFAULT_MAX_IMAGE_PIXELS = 89_478_485  # PIL's own default decompression-bomb threshold
ALPHA_MODES = ("composite", "drop")  # transparent pixels become white, or keep their stored colour


class BadSampleError(ValueError):
    """A sample that cannot be used.

    Args:
        source: The file (or annotation item) at fault.
        reason: What is wrong with it, and what to do.
        kind: Short category for the skip counts (default: ``reason`` up to its first parenthesis).
    """

    def __init__(self, source: str, reason: str, kind: str | None = None) -> None:
        super().__init__(f"{source}: {reason}")
        self.source, self.reason = source, reason
        self.kind = kind or reason.split(" (")[0]


def load_image(
    source: str | Path | bytes,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    alpha: str = "composite",
) -> object:
    """Open an image as 8-bit sRGB RGB PIL, the way a photo viewer shows it.

    EXIF orientation is applied, an embedded ICC profile is converted to sRGB, animated GIF/WebP/APNG give
    their first frame, and a truncated file gives what it holds (with a warning, once per file). See
    :mod:`vlkit.data.photo` and the table in docs/datasets.md.

    Args:
        source: A path, or the encoded bytes (then ``name`` labels errors).
        name: Label of ``source`` in errors.
        max_pixels: Refuse images larger than this (decompression bombs).
        alpha: ``composite`` transparent images on white, or ``drop`` the alpha channel.

    Raises:
        BadSampleError: missing, empty, undecodable or oversized image.
    """
    from PIL import Image

    if alpha not in ALPHA_MODES:
        raise ValueError(f"alpha must be one of {ALPHA_MODES} (datasets.<name>.alpha), got {alpha!r}")
    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    if isinstance(source, bytes):
        if not source:
            raise BadSampleError(label, "empty image data (0 bytes)")
    else:
        path = Path(source)
        if not path.is_file():
            raise BadSampleError(label, "image file not found")
        if path.stat().st_size == 0:
            raise BadSampleError(label, "empty image file (0 bytes)")
    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # we check the size ourselves, with a message naming the limit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = _decode(source, label, max_pixels)
            return to_rgb(to_srgb(upright(img), label), alpha)
    except BadSampleError:
        raise
    except Exception as err:  # noqa: BLE001 - PIL raises many types for corrupt files
        raise BadSampleError(label, f"cannot decode image ({type(err).__name__}: {err})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _open(source: str | Path | bytes) -> object:
    from PIL import Image

    return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)


def _decode(source: str | Path | bytes, label: str, max_pixels: int) -> object:
    """Open, check the size before decoding any pixel, and decode the (first) frame; truncated files too."""
    from PIL import ImageFile

    img = _open(source)
    w, h = img.size
    if w * h > max_pixels:
        raise BadSampleError(
            label,
            f"image too large: {w}x{h} = {w * h} pixels, above the limit of {max_pixels} "
            "(raise datasets.<name>.max_image_pixels if the image is genuine)",
            kind="image too large",
        )
    try:
        img.load()
        return img
    except OSError as err:
        if "truncated" not in str(err):
            raise
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # a module global in PIL; restored at once
    try:
        img = _open(source)
        img.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old
    warn_truncated(label)
    return img


def decode_text(raw: str | bytes | None, source: str) -> str:
    """A caption as ``str``; bytes must be UTF-8.

    Raises:
        BadSampleError: missing or non-UTF-8 text.
    """
    if raw is None:
        raise BadSampleError(source, "caption is missing")
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BadSampleError(
                source, f"caption is not valid UTF-8 ({err.reason} at byte {err.start})", kind="caption not UTF-8"
            ) from None
    return str(raw)

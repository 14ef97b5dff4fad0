"""Reading images and captions robustly: every failure names the file and the problem."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

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


def _to_rgb(img: object, alpha: str = "composite") -> object:
    """Convert any PIL mode to RGB.

    Alpha (RGBA, LA, palette transparency) is composited on white (``alpha="composite"``, what a viewer
    shows) or dropped (``"drop"``: the stored colour of transparent pixels, often black). 16-bit and float
    images are rescaled from their own min..max to 8 bits; CMYK, grayscale and palette go through PIL.
    """
    from PIL import Image

    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.astype(np.uint8), mode="L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        if alpha == "drop":
            return rgba.convert("RGB")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def load_image(
    source: str | Path | bytes,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    alpha: str = "composite",
) -> object:
    """Open an image as RGB PIL.

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
        fobj: object = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise BadSampleError(label, "image file not found")
        if path.stat().st_size == 0:
            raise BadSampleError(label, "empty image file (0 bytes)")
        fobj = path
    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # we check the size ourselves, with a message naming the limit
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fobj)
            w, h = img.size
            if w * h > max_pixels:
                raise BadSampleError(
                    label,
                    f"image too large: {w}x{h} = {w * h} pixels, above the limit of {max_pixels} "
                    "(raise datasets.<name>.max_image_pixels if the image is genuine)",
                    kind="image too large",
                )
            img.load()
        return _to_rgb(img, alpha)
    except BadSampleError:
        raise
    except Exception as err:  # noqa: BLE001 - PIL raises many types for corrupt files
        raise BadSampleError(label, f"cannot decode image ({type(err).__name__}: {err})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old


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

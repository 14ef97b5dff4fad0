"""A decoded image as a photo viewer shows it: upright (EXIF orientation), in sRGB (ICC profile), 8-bit RGB.

Cameras store pixels as the sensor read them and write how to turn them upright in the EXIF orientation
tag; phones and editing tools tag colours with an ICC profile (Display P3, Adobe RGB, a CMYK press
profile). Models were trained on what a viewer shows, so we apply both before the mode conversion.
"""

from __future__ import annotations

import functools
import io
import logging
from typing import Any

logger = logging.getLogger("vlkit.data")

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_ICC_MODES = ("RGB", "RGBA", "CMYK", "L")  # modes littlecms converts; others keep their pixels as they are


def upright(img: Any) -> Any:
    """Apply the EXIF orientation tag (rotate/mirror as the camera asks); images without one are unchanged."""
    from PIL import ImageOps

    orientation = img.getexif().get(0x0112, 1)  # 274, Orientation
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        ImageOps.exif_transpose(img, in_place=True)
    return img


@functools.lru_cache(maxsize=32)
def _transform_to_srgb(icc: bytes, mode: str) -> Any:
    """A cached littlecms transform from the profile ``icc`` (of ``mode`` pixels) to sRGB; None when it is sRGB."""
    from PIL import ImageCms

    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    if mode != "CMYK" and (ImageCms.getProfileDescription(source) or "").strip().startswith("sRGB"):
        return None
    return ImageCms.buildTransform(source, ImageCms.createProfile("sRGB"), mode, "RGB")


def to_srgb(img: Any, label: str) -> Any:
    """Convert ``img`` from its embedded ICC profile to sRGB; without (or with an unreadable) profile, unchanged."""
    from PIL import Image, ImageCms

    icc = img.info.get("icc_profile")
    if not icc or img.mode not in _ICC_MODES:
        return img
    base, alpha = (img.convert("RGB"), img.getchannel("A")) if img.mode == "RGBA" else (img, None)
    try:
        transform = _transform_to_srgb(bytes(icc), base.mode)
        if transform is None:
            return img
        out = ImageCms.applyTransform(base, transform)
    except (ImageCms.PyCMSError, OSError, ValueError) as err:
        _warn_once(label, f"its ICC colour profile cannot be applied ({err}); colours are used as stored")
        return img
    if alpha is not None:
        out = Image.merge("RGBA", (*out.split()[:3], alpha))
    return out


def to_rgb(img: Any, alpha: str = "composite") -> Any:
    """Convert any PIL mode to 8-bit RGB.

    Alpha (RGBA, LA, palette transparency) is composited on white (``alpha="composite"``, what a viewer
    shows) or dropped (``"drop"``: the stored colour of transparent pixels, often black). 16-bit images map
    their full range (0..65535) to 0..255 as a viewer does; 32-bit integer and float images, whose range is
    not defined by the format, are rescaled from their own min..max. CMYK, grayscale and palette go through PIL.
    """
    from PIL import Image

    mode = img.mode
    if mode == "RGB":
        return img
    if mode in SIXTEEN_BIT_MODES or mode in ("I", "F"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        if mode in SIXTEEN_BIT_MODES:
            arr = arr / 257.0
        else:
            lo, hi = float(arr.min()), float(arr.max())
            arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L").convert("RGB")
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


_warned: set[str] = set()


def _warn_once(label: str, message: str) -> None:
    """Log ``label: message`` the first time this process sees ``label`` (a file read every epoch warns once)."""
    if label not in _warned:
        _warned.add(label)
        logger.warning("%s: %s", label, message)


def warn_truncated(label: str) -> None:
    """The file ends early; a viewer shows what is there (the rest grey), and so do we."""
    _warn_once(label, "image file is truncated; decoded what it holds (the missing part is filled in)")

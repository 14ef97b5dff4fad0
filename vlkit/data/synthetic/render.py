"""Drawing scenes of the shapes world with OpenCV, and encoding them as JPEG.

Colour, size and rotation jitter, textured backgrounds, soft edges and pixel noise keep the classes from
being separable by a single pixel value, so a model has to look at shapes and layout.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import numpy as np

from vlkit.data.synthetic.scene import COLOURS, Obj, Scene

_RADIUS = {"small": 0.07, "large": 0.12}  # half the object's extent, as a fraction of the image side


def require_cv2() -> ModuleType:
    """The cv2 module, or an ImportError naming the package to install."""
    try:
        import cv2
    except ImportError as err:
        raise ImportError("the synthetic world draws with OpenCV: pip install opencv-python-headless") from err
    return cv2


# Vertices of each polygonal shape around its centre, in units of its radius (y points down).
_VERTICES = {
    "square": [(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)],
    "triangle": [(0.0, -1.1), (1.05, 0.8), (-1.05, 0.8)],
    "diamond": [(0.0, -1.25), (0.8, 0.0), (0.0, 1.25), (-0.8, 0.0)],
    "star": [  # five points; the inner vertices at 0.5 of the outer radius
        (
            math.sin(k * math.pi / 5) * (1.15 if k % 2 == 0 else 0.5),
            -math.cos(k * math.pi / 5) * (1.15 if k % 2 == 0 else 0.5),
        )
        for k in range(10)
    ],
}


def _polygon(obj: Obj, cx: float, cy: float, r: float) -> np.ndarray:
    """Vertices of ``obj``'s shape centred at (cx, cy) with radius r, rotated by ``obj.angle``, in 1/16 pixels."""
    a = math.radians(obj.angle)
    ca, sa = math.cos(a), math.sin(a)
    out = [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in _VERTICES[obj.shape]]
    # Sub-pixel vertices (shift=4) keep small shapes from snapping to the pixel grid.
    return np.round(np.array(out) * 16).astype(np.int32)


def render_background(scene: Scene, size: int, rng: np.random.Generator) -> np.ndarray:
    """The textured background of ``scene`` (no objects), RGB uint8."""
    cv2 = require_cv2()
    base = np.array(scene.bg_colour, np.float32)
    shade = tuple(float(c) for c in np.clip(base * (0.78 if base.mean() > 128 else 1.35) + 8, 0, 255))
    img = np.empty((size, size, 3), np.uint8)
    img[:] = scene.bg_colour
    period = max(4, int(size * rng.uniform(0.09, 0.14)))
    if scene.background == "striped":
        width = max(2, period // 2)
        horizontal = rng.random() < 0.5
        for p in range(int(rng.integers(period)) - period, size, period):
            a, b = ((0, p), (size - 1, p + width - 1)) if horizontal else ((p, 0), (p + width - 1, size - 1))
            cv2.rectangle(img, a, b, shade, -1)
    elif scene.background == "dotted":
        radius = max(1, period // 4)
        off = int(rng.integers(period))
        for y in range(off, size, period):
            for x in range(off, size, period):
                cv2.circle(img, (x, y), radius, shade, -1, lineType=cv2.LINE_AA)
    elif scene.background == "gradient":
        t = np.linspace(0.0, 1.0, size, dtype=np.float32)
        ramp = t[:, None] if rng.random() < 0.5 else t[None, :]
        ramp = ramp[..., None] if rng.random() < 0.5 else 1.0 - ramp[..., None]
        img = (base * (1 - ramp) + np.array(shade, np.float32) * ramp).astype(np.uint8)
        img = np.ascontiguousarray(np.broadcast_to(img, (size, size, 3)))
    return img


def draw_object(
    img: np.ndarray, obj: Obj, rng: np.random.Generator, cx: float | None = None, cy: float | None = None
) -> None:
    """Draw ``obj`` into ``img`` (RGB, in place), at its own centre unless ``cx``/``cy`` (fractions) are given."""
    cv2 = require_cv2()
    size = img.shape[0]
    r = size * _RADIUS[obj.size] * rng.uniform(0.88, 1.12)
    x, y = size * (obj.cx if cx is None else cx), size * (obj.cy if cy is None else cy)
    colour = tuple(int(np.clip(c + rng.integers(-22, 23), 0, 255)) for c in COLOURS[obj.colour])
    if obj.shape == "circle":
        centre = (int(round(x * 16)), int(round(y * 16)))
        cv2.circle(img, centre, int(round(r * 16)), colour, -1, lineType=cv2.LINE_AA, shift=4)
    else:
        cv2.fillPoly(img, [_polygon(obj, x, y, r)], colour, lineType=cv2.LINE_AA, shift=4)


def add_noise(img: np.ndarray, rng: np.random.Generator, amplitude: int = 10) -> np.ndarray:
    """``img`` with uniform per-pixel noise of ±``amplitude`` (sensor-like, so no two images share a pixel pattern)."""
    noise = rng.integers(-amplitude, amplitude + 1, size=img.shape, dtype=np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def render_scene(scene: Scene, size: int, rng: np.random.Generator) -> np.ndarray:
    """An RGB uint8 ``size``×``size`` image of ``scene``."""
    img = render_background(scene, size, rng)
    for obj in scene.objects:
        draw_object(img, obj, rng)
    return add_noise(img, rng)


def encode_jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB uint8 image."""
    cv2 = require_cv2()
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(img[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {img.shape} image as JPEG")
    return buf.tobytes()


class ImageWriter:
    """Renders scenes to JPEG files under ``root``, each from its own seeded generator."""

    def __init__(self, root: Path, size: int) -> None:
        self.root, self.size = root, size

    def write(self, rel: str, scene: Scene, rng: np.random.Generator) -> bytes:
        """Render ``scene`` to ``root/rel``; returns the JPEG bytes."""
        data = encode_jpeg(render_scene(scene, self.size, rng))
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


__all__ = [
    "ImageWriter",
    "add_noise",
    "draw_object",
    "encode_jpeg",
    "render_background",
    "render_scene",
    "require_cv2",
]

"""A tiny captioner saved as a local checkpoint, a test image, and the demo served on a free local port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw

from vlkit.models import load_model

# every tab preselects a tiny type: random weights, nothing downloaded
TINY_DEFAULTS = {
    "caption": ("blip_caption", "tiny"),
    "vqa": ("blip_vqa", "tiny"),
    "itm": ("blip_image_text_matching", "tiny"),
    "classify": ("blip_feature_extractor", "tiny"),
}


@pytest.fixture(scope="session")
def caption_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny captioner's ``save_checkpoint`` file (seeded random weights; [SEP] a little likelier)."""
    torch.manual_seed(0)
    model = load_model("blip_caption", "tiny", pretrained=False)
    with torch.no_grad():
        model.text_decoder.cls.predictions.bias[102] += 1.0
    return model.save_checkpoint(tmp_path_factory.mktemp("demo_ckpt") / "captioner.safetensors")


@pytest.fixture(scope="session")
def test_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    img = Image.new("RGB", (256, 256), (235, 235, 235))
    draw = ImageDraw.Draw(img)
    draw.ellipse((40, 60, 140, 160), fill=(220, 40, 40))
    draw.rectangle((150, 120, 230, 200), fill=(40, 60, 220))
    path = tmp_path_factory.mktemp("demo_img") / "shapes.png"
    img.save(path)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def demo_url() -> Iterator[str]:
    """The demo page, launched once per session on 127.0.0.1 (skipped without gradio)."""
    pytest.importorskip("gradio", reason="the demo needs gradio: pip install 'vlkit[demo]'")
    from vlkit.demo.app import build_app

    app = build_app(device="cpu", defaults=TINY_DEFAULTS)
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()

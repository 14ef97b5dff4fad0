"""The demo in a real browser: Debian's chromium driven by playwright loads the page, uploads an image and
reads the caption, which must equal the one the same model gives directly.

Skipped, saying why, without playwright or a chromium binary (``apt-get install chromium``; ``.ci/run``
tries it; ``VLKIT_CHROMIUM=/path/to/chrome`` picks another). ``VLKIT_DEMO_SCREENSHOT=PATH`` keeps the
screenshot taken once the caption is shown; ``VLKIT_DEMO_CHECKPOINT`` (a tiny captioner: file or saved
directory) and ``VLKIT_DEMO_IMAGE`` replace the random captioner and the drawn image. docs/images/demo_caption.png
was made so, with a tiny captioner trained on the synthetic world and one of its images.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from vlkit.demo import inference
from vlkit.demo.inference import ModelCache, ModelKey

pytestmark = pytest.mark.slow
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _chromium() -> str:
    path = os.environ.get("VLKIT_CHROMIUM") or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    if path is None:
        pytest.skip(
            "no chromium binary found (looked for VLKIT_CHROMIUM and " + ", ".join(CHROMIUM_NAMES) + " on PATH): "
            "install it with `apt-get install chromium` (Debian; .ci/run tries this) to run the browser test"
        )
    return path


def test_caption_in_a_real_browser(demo_url: str, caption_checkpoint: Path, test_image: Path, tmp_path: Path) -> None:
    pytest.importorskip("playwright.sync_api", reason="the browser test needs playwright: pip install 'vlkit[dev]'")
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    caption_checkpoint = Path(os.environ.get("VLKIT_DEMO_CHECKPOINT") or caption_checkpoint)
    test_image = Path(os.environ.get("VLKIT_DEMO_IMAGE") or test_image)
    entry = ModelCache().get(ModelKey("blip_caption", "tiny", str(caption_checkpoint)))
    expected = inference.caption(entry, Image.open(test_image), "beam", 3, 30, 5, 0.9, 0)  # the page's defaults
    shot = Path(os.environ.get("VLKIT_DEMO_SCREENSHOT") or tmp_path / "demo.png")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(demo_url, wait_until="networkidle")
            page.locator("#caption-checkpoint textarea, #caption-checkpoint input").first.fill(str(caption_checkpoint))
            page.locator("#caption-image input[type=file]").set_input_files(str(test_image))
            page.locator("#caption-image img").first.wait_for(timeout=30_000)  # the upload is shown
            page.locator("#caption-button").click()
            output = page.locator("#caption-output textarea").first
            page.wait_for_function("el => el.value.length > 0", arg=output.element_handle(), timeout=120_000)
            caption = output.input_value()
            page.wait_for_timeout(1000)  # let the output's fade-in finish before the screenshot
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    assert caption == expected
    assert shot.stat().st_size > 1000

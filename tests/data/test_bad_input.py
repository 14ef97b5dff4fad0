"""Every kind of bad input gives a clear error naming the file, or a counted, logged skip."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlkit.data.builders import load_dataset
from vlkit.data.io import BadSampleError, decode_text, load_image
from vlkit.processors import VideoDecodeError


def _png(path: Path, mode: str, size: tuple[int, int] = (8, 8)) -> Path:
    if mode == "I;16":
        Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).save(path)  # a 16-bit PNG
        assert Image.open(path).mode.startswith("I")
    else:
        Image.new(mode, size, 200 if mode in ("L", "P", "I;16") else None).save(
            path, format="TIFF" if mode == "CMYK" else None
        )
    return path


@pytest.mark.parametrize(
    "mode,suffix", [("L", ".png"), ("RGBA", ".png"), ("P", ".png"), ("CMYK", ".tif"), ("I;16", ".png"), ("LA", ".png")]
)
def test_image_modes_become_rgb(tmp_path: Path, mode: str, suffix: str) -> None:
    img = load_image(_png(tmp_path / f"x{suffix}", mode))
    assert img.mode == "RGB" and img.size == (8, 8)


def test_rgba_alpha_is_composited_on_white(tmp_path: Path) -> None:
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "t.png")
    assert load_image(tmp_path / "t.png").getpixel((0, 0)) == (255, 255, 255)


def test_missing_empty_corrupt_and_bomb(tmp_path: Path) -> None:
    with pytest.raises(BadSampleError, match="nope.jpg: image file not found"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(BadSampleError, match=r"empty.jpg: empty image file \(0 bytes\)"):
        load_image(tmp_path / "empty.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(BadSampleError, match="bad.jpg: cannot decode image"):
        load_image(tmp_path / "bad.jpg")
    Image.new("L", (400, 300)).save(tmp_path / "big.png")
    with pytest.raises(BadSampleError, match=r"400x300 = 120000 pixels, above the limit of 100000"):
        load_image(tmp_path / "big.png", max_pixels=100_000)


def test_non_utf8_and_missing_caption() -> None:
    with pytest.raises(BadSampleError, match="not valid UTF-8"):
        decode_text(b"caf\xe9", "x.txt")
    with pytest.raises(BadSampleError, match="caption is missing"):
        decode_text(None, "x")


@pytest.fixture
def broken_json_dataset(tmp_path: Path) -> dict:
    images = tmp_path / "images"
    images.mkdir()
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(buf, format="JPEG")
    (images / "ok.jpg").write_bytes(buf.getvalue())
    (images / "corrupt.jpg").write_bytes(b"not an image")
    (images / "zero.jpg").write_bytes(b"")
    entries = [
        {"image": "ok.jpg", "caption": "a green square"},
        {"image": "corrupt.jpg", "caption": "a corrupt image"},
        {"image": "missing.jpg", "caption": "a missing image"},
        {"image": "zero.jpg", "caption": "an empty file"},
        {"image": "ok.jpg", "caption": "!!! ..."},  # empty after cleaning
        {"image": "ok.jpg", "caption": "word " * 500},  # very long: truncated by the text processor
    ]
    (tmp_path / "train.json").write_text(json.dumps(entries))
    return {"build_info.root": str(tmp_path), "build_info.annotations.train.storage": "train.json"}


def test_error_policy_names_the_file(broken_json_dataset: dict) -> None:
    ds = load_dataset("image_text_json", on_bad_sample="error", **broken_json_dataset)["train"]
    assert ds[0]["text_input"] == "a green square"
    with pytest.raises(BadSampleError, match=r"corrupt.jpg.*cannot decode image.*run.on_bad_sample=skip"):
        ds[1]


def test_skip_policy_counts_and_logs_every_skip(broken_json_dataset: dict, caplog: pytest.LogCaptureFixture) -> None:
    ds = load_dataset("image_text_json", on_bad_sample="skip", **broken_json_dataset)["train"]
    with caplog.at_level(logging.WARNING, logger="vlkit.data"):
        batch = ds.collater([ds[i] for i in range(len(ds))])
    assert batch["num_skipped"] == 4 and len(batch["text_input"]) == 2
    assert len(batch["text_input"][1].split()) == 50  # long caption truncated to max_words, not dropped
    assert ds.bad_samples.total == 4
    assert sum("skipped bad sample" in r.message for r in caplog.records) == 4
    assert any("missing.jpg" in r.message for r in caplog.records)


def test_web_datasets_default_to_skip_and_curated_to_error() -> None:
    from vlkit.common.registry import registry

    assert registry.get_builder_class("conceptual_captions_3m").DEFAULT_POLICY == "skip"
    assert registry.get_builder_class("laion").DEFAULT_POLICY == "skip"
    assert registry.get_builder_class("coco_caption").DEFAULT_POLICY == "error"


def test_truncated_and_missing_video(tmp_path: Path) -> None:
    from vlkit.processors import load_processor

    proc = load_processor("blip_video_eval", {"image_size": 32, "n_frms": 4})
    (tmp_path / "cut.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    with pytest.raises(VideoDecodeError, match="cut.mp4"):
        proc(str(tmp_path / "cut.mp4"))


def test_missing_images_dir_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations/coco_karpathy_train.json").write_text("[]")
    with pytest.raises(FileNotFoundError, match=r"images not found at .*cocodataset.org.*build_info.images.storage"):
        load_dataset(
            "coco_caption",
            **{
                "build_info.root": str(tmp_path),
                "build_info.annotations": {"train": {"storage": "annotations/coco_karpathy_train.json"}},
            },
        )


def test_missing_annotation_suggests_download(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="vlkit data download coco_caption"):
        load_dataset("coco_caption", **{"build_info.root": str(tmp_path)})

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
    with pytest.raises(
        FileNotFoundError,
        match=r"images not found at .*train2014 and val2014 from cocodataset.org.*build_info.images.storage",
    ):
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


def test_rgba_alpha_can_be_dropped_instead(tmp_path: Path) -> None:
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(tmp_path / "t.png")
    assert load_image(tmp_path / "t.png", alpha="drop").getpixel((0, 0)) == (255, 0, 0)
    with pytest.raises(ValueError, match="alpha must be one of"):
        load_image(tmp_path / "t.png", alpha="keep")


def test_sixteen_bit_image_keeps_its_levels(tmp_path: Path) -> None:
    img = load_image(_png(tmp_path / "d.png", "I;16"))  # 0..63000 of 65535: shown as 0..245, not stretched
    values = np.asarray(img)[..., 0]
    assert values.min() == 0 and values.max() == 245


def test_bomb_limit_is_configurable_and_counted(broken_json_dataset: dict, tmp_path: Path) -> None:
    Image.new("RGB", (400, 300)).save(tmp_path / "images" / "big.jpg")
    entries = [{"image": "big.jpg", "caption": "a big image"}, {"image": "ok.jpg", "caption": "small"}]
    (tmp_path / "train.json").write_text(json.dumps(entries))
    ds = load_dataset("image_text_json", on_bad_sample="skip", max_image_pixels=100_000, **broken_json_dataset)
    batch = ds["train"].collater([ds["train"][0], ds["train"][1]])
    assert batch["num_skipped"] == 1 and ds["train"].bad_samples.by_reason == {"image too large": 1}
    strict = load_dataset("image_text_json", on_bad_sample="error", max_image_pixels=100_000, **broken_json_dataset)
    with pytest.raises(BadSampleError, match=r"big.jpg: image too large: 400x300 .* limit of 100000 .*max_image_pix"):
        strict["train"][0]


def test_missing_image_in_a_curated_dataset_says_where_it_belongs(build_twin) -> None:  # noqa: ANN001
    ds = build_twin("shapes_coco_caption")["val"]
    ds.annotation[0] = {**ds.annotation[0], "image": "val2014/COCO_val2014_000000000042.jpg"}
    with pytest.raises(
        BadSampleError,
        match=r"COCO_val2014_000000000042.jpg: image file not found "
        r"\(Download train2014 and val2014 from cocodataset.org.*; "
        r"they belong under .*images, or set datasets.shapes_coco_caption.build_info.images.storage\)",
    ):
        ds[0]


def test_unreadable_video_is_skipped_and_counted(build_twin, tmp_path: Path) -> None:  # noqa: ANN001
    ds = build_twin("shapes_msrvtt_qa", on_bad_sample="skip")["train"]
    (tmp_path / "cut.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    ds.annotation[0] = {**ds.annotation[0], "video": str(tmp_path / "cut.mp4")}
    ds.annotation[1] = {**ds.annotation[1], "video": str(tmp_path / "gone.mp4")}
    batch = ds.collater([ds[i] for i in range(3)])
    assert batch["num_skipped"] == 2 and batch["video" if "video" in batch else "image"].shape[0] == 1
    assert ds.bad_samples.by_reason == {"unreadable video": 1, "video file not found": 1}
    strict = build_twin("shapes_msrvtt_qa")["train"]
    strict.annotation[0] = {**strict.annotation[0], "video": str(tmp_path / "cut.mp4")}
    with pytest.raises(BadSampleError, match=r"cut.mp4: .*run.on_bad_sample=skip"):
        strict[0]


def test_skip_counts_travel_through_dataloader_workers(broken_json_dataset: dict) -> None:
    import pickle

    from torch.utils.data import DataLoader

    ds = load_dataset("image_text_json", on_bad_sample="skip", **broken_json_dataset)["train"]
    loader = DataLoader(ds, batch_size=3, num_workers=2, collate_fn=ds.collater)
    assert sum(b["num_skipped"] for b in loader) == 4
    ds[1]
    clone = pickle.loads(pickle.dumps(ds.bad_samples))
    assert clone.by_reason == {"cannot decode image": 1} and clone.summary() == "1 skipped (cannot decode image: 1)"
    clone.merge(ds.bad_samples)
    assert clone.total == 2 and ds.bad_samples.total == 1

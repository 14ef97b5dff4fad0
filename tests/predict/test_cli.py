"""``vlkit predict`` through the real command line, with tiny models (random weights unless said otherwise)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from vlkit.cli import run
from vlkit.predict.writer import load_embeddings

FAST = ["--workers", "0", "--batch-size", "2", "--progress", "off"]


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Four good images (one in a sub-folder) and one that is not an image."""
    root = tmp_path / "photos"
    (root / "more").mkdir(parents=True)
    for i, colour in enumerate([(200, 20, 20), (20, 200, 20), (20, 20, 200)]):
        (root / f"{i}.png").write_bytes(_png(colour))
    (root / "more" / "grey.png").write_bytes(_png((90, 90, 90)))
    (root / "broken.jpg").write_bytes(b"not an image")
    return root


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_caption_folder_counts_bad_images_and_resumes(photos: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "captions.jsonl"
    args = ["predict", "caption", "--model", "blip_caption:tiny", "--input", str(photos), "--out", str(out), *FAST]
    assert run([*args, "--max-length", "8", "--min-length", "3"]) == 0
    records = _lines(out)
    assert sorted(r["id"] for r in records) == ["0.png", "1.png", "2.png", "more/grey.png"]
    assert all(isinstance(r["caption"], str) for r in records)
    bad = _lines(tmp_path / "captions.bad.jsonl")
    assert [b["id"] for b in bad] == ["broken.jpg"] and "cannot decode image" in bad[0]["reason"]
    printed = capsys.readouterr().out
    assert "read 5 images: 4 predicted + 1 skipped (0 already in captions.jsonl, 1 bad)" in printed
    assert "broken.jpg" in printed

    # a run killed while writing a record: the cut line is dropped, and images without a record predicted again
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[1:]) + '\n{"id": "0.p')
    assert run([*args, "--max-length", "8", "--min-length", "3"]) == 0
    assert "read 5 images: 1 predicted + 4 skipped (3 already in captions.jsonl, 1 bad)" in capsys.readouterr().out
    assert sorted(r["id"] for r in _lines(out)) == sorted(r["id"] for r in records)


def test_vqa_takes_questions_from_a_json_list(photos: Path, tmp_path: Path) -> None:
    listing = tmp_path / "questions.json"
    listing.write_text(
        json.dumps(
            [
                {"image": "photos/0.png", "id": "q1", "question": "what colour is it?"},
                {"image": "photos/0.png", "id": "q2"},
                {"image": "photos/missing.png", "id": "q3", "question": "is it there?"},
            ]
        )
    )
    out = tmp_path / "answers.jsonl"
    base = ["predict", "vqa", "--model", "blip_vqa:tiny", "--input", str(listing), "--out", str(out), *FAST]
    assert run(base) == 0  # q2 has no question and no --question: a bad input, not a crash
    assert [r["id"] for r in _lines(out)] == ["q1"]
    bad = {b["id"]: b["reason"] for b in _lines(tmp_path / "answers.bad.jsonl")}
    assert "no question" in bad["q2"] and "not found" in bad["q3"]
    assert run([*base, "--question", "how many shapes?"]) == 0
    by_id = {r["id"]: r for r in _lines(out)}
    assert by_id["q2"]["question"] == "how many shapes?" and by_id["q1"]["question"] == "what colour is it?"


def test_itm_scores_every_text(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "itm.jsonl"
    args = ["predict", "itm", "--model", "blip_image_text_matching:tiny", "--input", str(photos), "--out", str(out)]
    assert run([*args, "--texts", "a red square,a blue circle", *FAST]) == 0
    for record in _lines(out):
        assert [s["text"] for s in record["scores"]] == ["a red square", "a blue circle"]
        assert all(0.0 <= s["itm"] <= 1.0 and -1.0 <= s["itc"] <= 1.0 for s in record["scores"])


def test_embed_writes_normalised_features_and_appends_on_resume(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "features.safetensors"
    args = ["predict", "embed", "--model", "blip_feature_extractor:tiny", "--out", str(out), *FAST]
    first = tmp_path / "first"
    first.mkdir()
    (first / "0.png").write_bytes((photos / "0.png").read_bytes())
    assert run([*args, "--input", str(first)]) == 0
    assert run([*args, "--input", str(photos)]) == 0  # 0.png is already there: only the others are added
    ids, features = load_embeddings(out)
    assert ids == ["0.png", "1.png", "2.png", "more/grey.png"]
    assert features.shape == (4, 64) and features.dtype == torch.float32
    torch.testing.assert_close(features.norm(dim=1), torch.ones(4))
    assert not (tmp_path / "features.safetensors.parts").exists()


def test_shards_with_a_cut_shard(tmp_path: Path) -> None:
    for s in range(2):
        with tarfile.open(tmp_path / f"web-{s:06d}.tar", "w") as tar:
            for k in range(3):
                for name, data in ((f"s{s}k{k}.png", _png((40 * k, 90, 150))), (f"s{s}k{k}.txt", b"a blue square")):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    cut = tmp_path / "web-000001.tar"
    cut.write_bytes(cut.read_bytes()[:3048])  # the download stopped inside the second record (2,048 bytes each)
    out = tmp_path / "itm.jsonl"
    pattern = str(tmp_path / "web-{000000..000001}.tar")
    args = ["predict", "itm", "--model", "blip_image_text_matching:tiny", "--input", pattern, "--out", str(out)]
    assert run([*args, *FAST]) == 0  # texts come from each record's .txt member
    ids = [r["id"] for r in _lines(out)]
    assert ids[:3] == ["web-000000.tar:s0k0", "web-000000.tar:s0k1", "web-000000.tar:s0k2"]
    assert "web-000001.tar:s1k0" in ids and len(ids) == 4
    bad = _lines(tmp_path / "itm.bad.jsonl")
    assert bad == [{"id": "web-000001.tar", "reason": bad[0]["reason"], "images": 1}]
    assert "shard ends mid-record" in bad[0]["reason"] and "s1k1" in bad[0]["reason"]


def test_classify_without_classes_is_a_clear_error(photos: Path, tmp_path: Path, capsys) -> None:
    args = ["predict", "classify", "--model", "blip_feature_extractor:tiny", "--input", str(photos)]
    assert run([*args, "--out", str(tmp_path / "c.jsonl")]) == 2
    assert "needs --classes" in capsys.readouterr().err
    assert run([*args, "--out", str(tmp_path / "c.jsonl"), "--classes", "cat", "--dtype", "half"]) == 2
    assert "--dtype must be one of float32, bfloat16, float16" in capsys.readouterr().err


def test_bfloat16_weights_run(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    args = ["predict", "classify", "--model", "blip_feature_extractor:tiny", "--input", str(photos), "--out", str(out)]
    assert run([*args, "--classes", "red,green,blue", "--top-k", "2", "--dtype", "bfloat16", *FAST]) == 0
    records = _lines(out)
    assert len(records) == 4 and all(r["label"] in ("red", "green", "blue") and len(r["top"]) == 2 for r in records)

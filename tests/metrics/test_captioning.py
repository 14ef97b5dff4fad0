"""Caption metrics through pycocoevalcap: hand-checkable BLEU / CIDEr values, PTB + METEOR end to end."""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path

import pytest

from vlkit.metrics import captioning
from vlkit.metrics.captioning import build_coco_gt, coco_caption_eval, ptb_tokenize, score_captions

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="PTB tokenizer / METEOR need a Java runtime")


def test_build_coco_gt_merges_and_accepts_karpathy_fields() -> None:
    gt = build_coco_gt(
        [
            {"image_id": "a", "caption": ["one", "two"]},
            {"image_id": 5, "captions": ["three"]},
            {"image_id": "a", "caption": "four"},
        ]
    )
    assert [img["id"] for img in gt["images"]] == ["a", 5]
    assert [(a["image_id"], a["caption"]) for a in gt["annotations"]] == [
        ("a", "one"),
        ("a", "two"),
        ("a", "four"),
        (5, "three"),
    ]
    assert len({a["id"] for a in gt["annotations"]}) == 4
    assert gt["type"] == "captions"


def test_identical_captions_score_one() -> None:
    gts = {1: ["a man riding a horse on the beach"], 2: ["two dogs play in the snow"]}
    res = {k: v[0] for k, v in gts.items()}
    out = score_captions(gts, res, metrics=("Bleu", "ROUGE_L"))
    for key in ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "ROUGE_L"):
        assert out[key] == pytest.approx(1.0, abs=1e-6)


def test_bleu1_brevity_penalty_closest_reference_and_clipping() -> None:
    # 3 words, all correct, against a single 5-word reference: BP = exp(1 - 5/3).
    out = score_captions({0: ["a b c d e"]}, {0: "a b c"}, metrics=("Bleu",))
    assert out["Bleu_1"] == pytest.approx(math.exp(1 - 5 / 3), abs=1e-6)
    # The closest reference length (2) is shorter than the candidate, so there is no penalty.
    assert score_captions({0: ["a b c d e", "x y"]}, {0: "a b c"}, ("Bleu",))["Bleu_1"] == pytest.approx(1.0, abs=1e-6)
    # Clipped counts: "the" appears once in the reference.
    assert score_captions({0: ["the cat"]}, {0: "the the the"}, ("Bleu",))["Bleu_1"] == pytest.approx(1 / 3, abs=1e-6)


def test_cider_equal_to_one_of_two_references_vs_disjoint() -> None:
    gts = {"A": ["a b c d", "e f g h"], "B": ["i j k l", "m n o p"]}
    # Image A: cosine 1 with its first reference and 0 with the second, for every n -> 10 * (1 + 0) / 2 = 5.
    assert score_captions(gts, {"A": "a b c d", "B": "i j k l"}, ("CIDEr",))["CIDEr"] == pytest.approx(5.0)
    # Image B's candidate shares no n-gram with its references and scores 0, so the corpus mean is 2.5.
    assert score_captions(gts, {"A": "a b c d", "B": "w x y z"}, ("CIDEr",))["CIDEr"] == pytest.approx(2.5)
    assert score_captions(gts, {"A": "q r s t", "B": "w x y z"}, ("CIDEr",))["CIDEr"] == 0.0


def test_score_captions_validates_inputs() -> None:
    with pytest.raises(ValueError, match="unknown caption metrics"):
        score_captions({0: ["a"]}, {0: "a"}, ("BLEU",))
    with pytest.raises(ValueError, match="same image ids"):
        score_captions({0: ["a"]}, {1: "a"}, ("Bleu",))


@needs_java
def test_coco_caption_eval_end_to_end(tmp_path: Path) -> None:
    gt = build_coco_gt(
        [
            {"image_id": 1, "captions": ["A man riding a horse.", "A person rides a brown horse"]},
            {"image_id": 2, "captions": ["Two dogs play in the snow!", "dogs running in snow"]},
            {"image_id": 3, "captions": ["a red bus on a street", "a bus parked by the road"]},
        ]
    )
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    # Ids as strings still match int ids; case and punctuation vanish in PTB tokenization.
    preds = [
        {"image_id": "1", "caption": "a man riding a horse"},
        {"image_id": 2, "caption": "TWO DOGS PLAY IN THE SNOW"},
        {"image_id": 3, "caption": "a cat sleeping on a sofa"},
    ]
    out = coco_caption_eval(preds, str(path))
    assert set(out) == {"Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "agg_metrics"}
    assert 0.0 < out["METEOR"] < 1.0
    assert 0.0 < out["Bleu_4"] < 1.0
    assert out["agg_metrics"] == pytest.approx(out["CIDEr"] + out["Bleu_4"])
    # Scoring just the two exact matches gives BLEU-4 = 1 (tokenization made them identical).
    exact = coco_caption_eval(preds[:2], gt, metrics=("Bleu",))
    assert exact["Bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert exact["agg_metrics"] == exact["Bleu_4"]
    with pytest.raises(KeyError, match="not in the caption ground truth"):
        coco_caption_eval([{"image_id": 9, "caption": "x"}], gt, metrics=("Bleu",))
    with pytest.raises(ValueError, match="more than one"):
        coco_caption_eval(preds[:1] * 2, gt, metrics=("Bleu",))


@needs_java
def test_ptb_tokenize_matches_coco_conventions() -> None:
    assert ptb_tokenize(["A dog's toy, (red)!", "", "Line\nbreak."]) == [
        "a dog 's toy -lrb- red -rrb-",
        "",
        "line break",
    ]


def test_missing_java_skips_meteor_but_tokenizer_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(captioning.shutil, "which", lambda name: None)
    with caplog.at_level(logging.WARNING, logger="vlkit.metrics.captioning"):
        out = score_captions({0: ["a b c"]}, {0: "a b c"}, ("Bleu", "METEOR"))
    assert math.isnan(out["METEOR"])
    assert out["Bleu_1"] == pytest.approx(1.0, abs=1e-6)
    assert "java" in caplog.text
    with pytest.raises(RuntimeError, match="java"):
        coco_caption_eval([{"image_id": 1, "caption": "x"}], build_coco_gt([{"image_id": 1, "captions": ["x"]}]))


def test_spice_without_corenlp_asks_for_explicit_download(monkeypatch: pytest.MonkeyPatch) -> None:
    from pycocoevalcap.spice import get_stanford_models as models

    if (Path(models.SPICEDIR) / models.SPICELIB / f"{models.JAR}.jar").exists():
        pytest.skip("Stanford CoreNLP is installed; SPICE would run for real")
    monkeypatch.setattr(captioning, "java_available", lambda: True)
    with pytest.raises(RuntimeError, match="get_stanford_models"):
        score_captions({0: ["a b"]}, {0: "a b"}, ("SPICE",))


_VARIED = [
    "A man riding a bike.",
    "A dog's toy, on the floor!",
    "People don't like t-shirts; they're  hot?",
    'Two "red" circles (big) - and a square...',
    "[a] {b}",
    "It's 3 o'clock",
    "A MAN WITH A HAT",
]


def test_simple_tokenizer_on_known_cases() -> None:
    assert captioning.simple_tokenize(_VARIED) == [
        "a man riding a bike",
        "a dog 's toy on the floor",
        "people do n't like t-shirts they 're hot",
        "two red circles -lrb- big -rrb- and a square",
        "-lsb- a -rsb- -lcb- b -rcb-",
        "it 's 3 o'clock",
        "a man with a hat",
    ]


@needs_java
def test_simple_tokenizer_matches_ptb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vlkit.data.synthetic.world import ensure_world

    root = ensure_world()
    anns = json.loads((root / "coco" / "annotations" / "coco_karpathy_train.json").read_text())
    world = sorted({a["caption"] for a in anns})
    web = sorted({a["caption"] for a in json.loads((root / "web" / "annotations" / "web_train.json").read_text())})
    sentences = _VARIED + world + web
    assert captioning.simple_tokenize(sentences) == ptb_tokenize(sentences)


def test_simple_tokenizer_evaluates_without_java(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(captioning, "java_available", lambda: False)
    gt = build_coco_gt([{"image_id": 1, "caption": ["A red circle."]}, {"image_id": 2, "caption": ["A blue star!"]}])
    preds = [{"image_id": 1, "caption": "a red circle"}, {"image_id": 2, "caption": "a blue star"}]
    with pytest.raises(RuntimeError, match="needs Java"):
        coco_caption_eval(preds, gt)
    out = coco_caption_eval(preds, gt, tokenizer="simple")
    assert out["Bleu_1"] == pytest.approx(1.0) and math.isnan(out["METEOR"]) and out["CIDEr"] > 0
    with pytest.raises(ValueError, match="run.caption_tokenizer"):
        coco_caption_eval(preds, gt, tokenizer="nltk")

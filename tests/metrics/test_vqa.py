"""VQA answer normalisation (official rules) and the 10-choose-9 accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlkit.metrics.vqa import answer_accuracy, vqa_accuracy
from vlkit.metrics.vqa_normalize import normalize_answer


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Two", "2"),
        ("the dog.", "dog"),
        ("isnt", "isn't"),
        ("3 dogs", "3 dogs"),
        ("Three Dogs", "3 dogs"),
        ("none", "0"),
        ("an apple", "apple"),
        ("yes!", "yes"),
        ("1,000", "1000"),  # digit-comma-digit: punctuation is deleted, not spaced
        ("red,blue", "red blue"),  # punctuation inside a word becomes a space
        ("red, blue", "red blue"),  # next to a space it is deleted
        ("t-shirt", "t shirt"),
        ("3.5", "3.5"),  # a period before a digit is a decimal point
        ("10:30", "10:30"),  # colons survive (times)
        ("girl's", "girl's"),  # apostrophes survive (possessives)
        ("couldnt've", "couldn't've"),
        ("couldn'tve", "couldn't've"),
        ("dont", "don't"),
        ("im", "im"),  # the reference's "Im" entry never fires after lower-casing
        ("  \tA Red\nball  ", "red ball"),
    ],
)
def test_normalize_answer_official_rules(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


@pytest.mark.parametrize(("matches", "expected"), [(0, 0.0), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (10, 1.0)])
def test_ten_choose_nine_averaging(matches: int, expected: float) -> None:
    # With m matching annotators: leaving out a matching one leaves m-1 matches, leaving out another leaves m;
    # e.g. m=2: (2 * 1/3 + 8 * 2/3) / 10 = 0.6.
    answers = ["yes"] * matches + ["no"] * (10 - matches)
    assert answer_accuracy("yes", answers) == pytest.approx(expected)


def test_single_answer_is_exact_match() -> None:
    assert answer_accuracy("red", ["red"]) == 1.0
    assert answer_accuracy("red", ["blue"]) == 0.0


def _official(annotations: list[dict]) -> dict:
    for ann in annotations:
        ann["answers"] = [
            {"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(ann["answers"])
        ]
    return {"annotations": annotations}


def test_overall_and_per_answer_type(tmp_path: Path) -> None:
    anns = _official(
        [
            {"question_id": 1, "answer_type": "yes/no", "answers": ["yes"] * 10},
            {"question_id": 2, "answer_type": "number", "answers": ["2"] * 2 + ["3"] * 8},
            {"question_id": 3, "answer_type": "other", "answers": ["red"] * 3 + ["blue", "dark red"] * 3 + ["pink"]},
        ]
    )
    preds = [
        {"question_id": 1, "answer": "Yes"},
        {"question_id": 2, "answer": "two"},
        {"question_id": 3, "answer": "red."},
    ]
    path = tmp_path / "v2_mscoco_val2014_annotations.json"
    path.write_text(json.dumps(anns))
    out = vqa_accuracy(preds, str(path))
    assert out["yes/no"] == pytest.approx(100.0)
    assert out["number"] == pytest.approx(60.0)
    assert out["other"] == pytest.approx(90.0)
    assert out["overall"] == out["agg_metrics"] == pytest.approx(250.0 / 3)
    assert out["num_questions"] == 3.0


def test_gt_normalization_modes_and_blip_list_format() -> None:
    # Ground truth written un-normalised and unanimous: the reference script leaves it untouched.
    anns = [{"question_id": 7, "answer": ["Two"] * 10}, {"question_id": 8, "answer": ["t-shirt"] * 5 + ["shirt"] * 5}]
    preds = [{"question_id": 7, "answer": "two"}, {"question_id": 8, "answer": "t-shirt"}]
    official = vqa_accuracy(preds, anns)
    assert official["overall"] == pytest.approx(50.0)  # q7 scores 0, q8 (annotators disagree) scores 1
    assert "yes/no" not in official
    assert vqa_accuracy(preds, anns, gt_normalization="full")["overall"] == pytest.approx(100.0)


def test_bad_predictions_raise() -> None:
    anns = [{"question_id": 1, "answers": ["yes"] * 10}]
    with pytest.raises(KeyError, match="question_id 2"):
        vqa_accuracy([{"question_id": 2, "answer": "yes"}], anns)
    with pytest.raises(ValueError, match="more than once"):
        vqa_accuracy([{"question_id": 1, "answer": "yes"}] * 2, anns)
    with pytest.raises(ValueError, match="gt_normalization"):
        vqa_accuracy([{"question_id": 1, "answer": "yes"}], anns, gt_normalization="loose")  # type: ignore[arg-type]

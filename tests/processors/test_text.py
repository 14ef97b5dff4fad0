"""Caption / question cleaning (BLIP's pre_caption / pre_question semantics)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vlkit.processors.text import BlipCaptionProcessor, BlipQuestionProcessor, EmptyTextError


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("A Dog.", "a dog"),
        ("A dog.Jumps!", "a dog jumps"),  # removed marks become spaces for captions
        ('He said "hi" (loudly) *now*: ok; ~fine#', "he said hi loudly now ok fine"),
        ("It's a dog, isn't it? A-ok / 3&4", "it's a dog, isn't it? a-ok / 3&4"),  # these marks are kept
        ("  a\n\n dog \t runs  ", "a dog runs"),
    ],
)
def test_caption_cleaning(raw: str, expected: str) -> None:
    assert BlipCaptionProcessor()(raw) == expected


def test_caption_max_words_and_prompt() -> None:
    words = " ".join(f"w{i}" for i in range(60))
    assert BlipCaptionProcessor()(words).split() == [f"w{i}" for i in range(50)]
    proc = BlipCaptionProcessor.from_config({"prompt": "a picture of ", "max_words": 3})
    # The prompt is prepended after truncation and does not count towards max_words.
    assert proc("One. two three four") == "a picture of one two three"


@pytest.mark.parametrize("raw", ["", "   ", "...!!", '"()"'])
def test_empty_caption_raises_value_error(raw: str) -> None:
    with pytest.raises(EmptyTextError, match="empty after cleaning") as info:
        BlipCaptionProcessor()(raw)
    assert isinstance(info.value, ValueError)


def test_caption_rejects_non_string() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        BlipCaptionProcessor()(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("What is the man's name?", "what is the man's name?"),
        ("e.g. (this) one!", "eg this one"),  # removed marks are deleted, not replaced by spaces
        ("How many, in total? ", "how many, in total?"),
        ("is  it\tred", "is it red"),
    ],
)
def test_question_cleaning(raw: str, expected: str) -> None:
    assert BlipQuestionProcessor()(raw) == expected


def test_question_max_words_and_empty() -> None:
    assert BlipQuestionProcessor.from_config({"max_words": 2})("what colour is it") == "what colour"
    with pytest.raises(EmptyTextError):
        BlipQuestionProcessor()("!!")


def test_max_words_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_words"):
        BlipCaptionProcessor.from_config({"max_words": 0})


def test_text_processors_work_without_torch() -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # any `import torch` now raises ImportError\n"
        "from vlkit.processors.text import BlipCaptionProcessor, BlipQuestionProcessor\n"
        "print(BlipCaptionProcessor.from_config({'prompt': 'p '})('A B.'), '|', BlipQuestionProcessor()('Why?'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "p a b | why?"

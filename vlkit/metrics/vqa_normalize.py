"""Answer normalisation of the official VQA evaluation (visualqa.org/evaluation).

The rules, in order: newlines/tabs become spaces and the answer is stripped; punctuation except the
apostrophe and colon is removed or replaced by a space; periods are dropped unless a digit follows (so
decimals survive); the answer is lower-cased and split on whitespace; number words become digits; the
articles a/an/the are dropped; contractions missing an apostrophe get it back ("isnt" → "isn't").
"""

from __future__ import annotations

import re

# Replaced by a space inside a word ("t-shirt" → "t shirt") and deleted when it touches a space or when
# the answer holds a digit-comma-digit number ("1,000" → "1000"), as the reference script does.
_PUNCTUATION = tuple(';/[]"{}()=+\\_-><@`,?!')
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")

_NUMBER_WORDS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_ARTICLES = frozenset({"a", "an", "the"})

# Canonical contractions the official evaluation restores. Words like "im", "ill", "well", "were", "its",
# "shes" are left alone there (they are words, or the reference's entries never fire after lower-casing).
_CANONICAL_CONTRACTIONS = (
    "ain't aren't can't could've couldn't couldn't've didn't doesn't don't hadn't hadn't've hasn't haven't "
    "he'd he'd've he's how'd how'll how's isn't it'd it'd've it'll ma'am mightn't mightn't've might've "
    "mustn't must've needn't not've o'clock oughtn't shan't she'd've should've shouldn't shouldn't've "
    "somebody'd've somebody'll somebody's someone'd someone'd've someone'll someone's something'd "
    "something'd've something'll that's there'd there'd've there're there's they'd they'd've they'll they're "
    "they've 'twas wasn't we'd've we've weren't what'll what're what's what've when's where'd where's "
    "where've who'd who'd've who'll who's who've why'll why're why's won't would've wouldn't wouldn't've "
    "y'all y'all'll y'all'd've you'd you'd've you'll you're you've"
).split()


def _contraction_map() -> dict[str, str]:
    """Each spelling with exactly one apostrophe missing → the canonical form (the reference's coverage)."""
    mapping: dict[str, str] = {}
    for canonical in _CANONICAL_CONTRACTIONS:
        for pos, char in enumerate(canonical):
            if char == "'":
                mapping[canonical[:pos] + canonical[pos + 1 :]] = canonical
    return mapping


_CONTRACTIONS = _contraction_map()


def clean_whitespace(text: str) -> str:
    """Newlines and tabs become spaces; surrounding whitespace is stripped."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def process_punctuation(text: str) -> str:
    """Punctuation step of the official evaluation (keeps apostrophes, colons and decimal points)."""
    out = text
    has_grouped_number = _DIGIT_COMMA_DIGIT.search(text) is not None
    for mark in _PUNCTUATION:
        touches_space = (mark + " " in text) or (" " + mark in text)
        out = out.replace(mark, "" if touches_space or has_grouped_number else " ")
    return _PERIOD_NOT_BEFORE_DIGIT.sub("", out)


def process_digits_articles(text: str) -> str:
    """Lower-case, number words → digits, drop articles, restore contractions; words joined by one space."""
    words = [_NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    return " ".join(_CONTRACTIONS.get(word, word) for word in words if word not in _ARTICLES)


def normalize_answer(answer: str) -> str:
    """Full official normalisation of one answer, e.g. ``"Two dogs."`` → ``"2 dogs"``, ``"isnt"`` → ``"isn't"``."""
    return process_digits_articles(process_punctuation(clean_whitespace(answer)))

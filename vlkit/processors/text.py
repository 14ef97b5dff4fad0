"""Caption and question normalisation (BLIP's ``pre_caption`` / ``pre_question``). Needs no torch."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vlkit.processors.base_processor import BaseProcessor, register_processor

# The characters BLIP's pre_caption/pre_question remove. Everything else (, ? ' - / & digits ...) is kept,
# so that text seen at fine-tuning matches what the released checkpoints were trained on.
_STRIPPED_PUNCTUATION = re.compile(r"[.!\"()*#:;~]")
_WHITESPACE = re.compile(r"\s+")


class EmptyTextError(ValueError):
    """A caption or question is empty after cleaning; datasets catch this to skip the sample."""


def clean_text(text: str, max_words: int, remove_with: str, kind: str) -> str:
    """Lower-case ``text``, remove BLIP's punctuation set, collapse whitespace and keep ``max_words`` words.

    Args:
        text: The raw caption or question.
        max_words: Words kept (counted after cleaning).
        remove_with: What replaces a removed punctuation mark: ``" "`` for captions, ``""`` for questions.
        kind: ``"caption"`` or ``"question"`` (for the error message).

    Raises:
        TypeError: if ``text`` is not a string.
        EmptyTextError: if nothing but whitespace is left.
    """
    if not isinstance(text, str):
        raise TypeError(f"A {kind} must be a str, got {type(text).__name__}: {text!r}.")
    cleaned = _WHITESPACE.sub(" ", _STRIPPED_PUNCTUATION.sub(remove_with, text.lower())).strip()
    if not cleaned:
        raise EmptyTextError(
            f'The {kind} {text!r} is empty after cleaning (lower-casing, removing . ! " ( ) * # : ; ~ '
            f"and whitespace); fix or drop this annotation."
        )
    return " ".join(cleaned.split(" ")[:max_words])


def _check_max_words(max_words: int, name: str) -> None:
    if max_words < 1:
        raise ValueError(f"processor {name!r}: max_words must be >= 1, got {max_words}.")


@dataclass
class BlipCaptionConfig:
    """Options of ``blip_caption``."""

    prompt: str = ""  # prepended after cleaning, e.g. "a picture of " for captioning fine-tuning
    max_words: int = 50

    def __post_init__(self) -> None:
        _check_max_words(self.max_words, "blip_caption")


@register_processor("blip_caption")
class BlipCaptionProcessor(BaseProcessor):
    """``str -> str``: BLIP caption cleaning plus an optional prompt prefix (not counted in ``max_words``).

    Punctuation marks become spaces (``"a dog.jumps"`` → ``"a dog jumps"``).
    """

    CONFIG_CLASS = BlipCaptionConfig
    config: BlipCaptionConfig

    def __call__(self, caption: str) -> str:
        return self.config.prompt + clean_text(caption, self.config.max_words, " ", "caption")


@dataclass
class BlipQuestionConfig:
    """Options of ``blip_question``."""

    max_words: int = 50

    def __post_init__(self) -> None:
        _check_max_words(self.max_words, "blip_question")


@register_processor("blip_question")
class BlipQuestionProcessor(BaseProcessor):
    """``str -> str``: BLIP question cleaning.

    Unlike captions, removed punctuation is deleted, not replaced by a space (``"what's this?"`` keeps its
    apostrophe and question mark; ``"e.g."`` becomes ``"eg"``), as the original ``pre_question`` does.
    """

    CONFIG_CLASS = BlipQuestionConfig
    config: BlipQuestionConfig

    def __call__(self, question: str) -> str:
        return clean_text(question, self.config.max_words, "", "question")

"""Declarative annotation schemas, checked once when a builder loads a file.

A schema lists an entry's keys with their JSON types, whether they may be missing or empty, and whether
their values must be unique across the file. Every builder declares one per split kind; the check names
the file, the entry index (0-based, as in ``jq '.[17]'``) and the key, e.g.
``annotations/coco_karpathy_train.json: entry 17: key 'caption': missing``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from vlkit.data.bad_samples import BadSampleCounter
from vlkit.data.io import BadSampleError

logger = logging.getLogger("vlkit.data")

_TYPE_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true/false",
    list: "a list",
    dict: "an object",
}
_PLURALS: dict[type, str] = {str: "strings", int: "integers", float: "numbers", bool: "true/false values"}
FIX_HINT = "Fix the entry, or set run.on_bad_sample=skip to skip such entries"


def json_type_name(value: Any) -> str:
    """``value``'s JSON type in words (``null`` for None), for messages."""
    if value is None:
        return "null"
    return next((name for t, name in _TYPE_NAMES.items() if type(value) is t), type(value).__name__)


def _is_a(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # JSON true/false is not a number, even though Python's bool is an int
        return bool in types
    return isinstance(value, types) or (float in types and isinstance(value, int))


def _expected(types: tuple[type, ...], items: tuple[type, ...] | AnnotationSchema | None) -> str:
    names = []
    for t in types:
        if t is list and isinstance(items, tuple):
            names.append("a list of " + " or ".join(_PLURALS.get(i, "objects") for i in items))
        else:
            names.append(_TYPE_NAMES[t])
    return " or ".join(names)


class AnnotationError(BadSampleError):
    """An annotation entry (or the whole file) that does not fit its format.

    Args:
        source: The annotation file.
        index: The entry's 0-based index, or None for the file as a whole.
        key: The key at fault (a dotted path for nested entries), or None.
        problem: What is wrong: ``missing``, ``empty``, ``expected a string, got an integer``, ...
    """

    def __init__(self, source: str, index: int | None, key: str | None, problem: str) -> None:
        where = "".join((f" entry {index}:" if index is not None else "", f" key '{key}':" if key else ""))
        super().__init__(source, f"{where.strip()} {problem}".strip(), kind=_kind(key, problem))
        self.index, self.key, self.problem = index, key, problem


def _kind(key: str | None, problem: str) -> str:
    """The skip-count category: the key (list indices dropped) and the problem without its values."""
    what = re.sub(r"\[\d+\]", "[]", key) if key else "entry"
    for category in ("duplicate", "expected"):
        if problem.startswith(category):
            return f"annotation '{what}': {'duplicate' if category == 'duplicate' else 'wrong type'}"
    return f"annotation '{what}': {problem.split(' (')[0].split('. ')[0]}"


@dataclass(frozen=True)
class Field:
    """One key of an annotation entry.

    Attributes:
        key: The key.
        types: Accepted JSON types (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``).
        required: The key must be present (and not null).
        non_empty: Strings must have non-blank text and lists at least one item.
        unique: No two entries may share the value.
        items: For list values: the type(s) of each item, or the schema of each object item.
        schema: For object values: their schema.
        length: For list values: the exact number of items.
        items_non_empty: String items must have non-blank text (default: ``non_empty``).
    """

    key: str
    types: tuple[type, ...]
    required: bool = True
    non_empty: bool = True
    unique: bool = False
    items: tuple[type, ...] | AnnotationSchema | None = None
    schema: AnnotationSchema | None = None
    length: int | None = None
    items_non_empty: bool | None = None

    def problem(self, value: Any) -> tuple[str, str] | None:
        """(key path, problem) for a value of this key (already known present), else None."""
        if not _is_a(value, self.types):
            return self.key, f"expected {_expected(self.types, self.items)}, got {json_type_name(value)}"
        blank = (isinstance(value, str) and not value.strip()) or (isinstance(value, list) and not value)
        if self.non_empty and blank:
            return self.key, "empty"
        if isinstance(value, dict) and self.schema is not None:
            inner = self.schema.problem(value)
            return (f"{self.key}.{inner[0]}", inner[1]) if inner else None
        if isinstance(value, list):
            return self._list_problem(value)
        return None

    def _list_problem(self, value: list) -> tuple[str, str] | None:
        if self.length is not None and len(value) != self.length:
            return self.key, f"expected {self.length} items, got {len(value)}"
        items_non_empty = self.non_empty if self.items_non_empty is None else self.items_non_empty
        for i, item in enumerate(value):
            path = f"{self.key}[{i}]"
            if isinstance(self.items, AnnotationSchema):
                if not isinstance(item, dict):
                    return path, f"expected an object, got {json_type_name(item)}"
                inner = self.items.problem(item)
                if inner:
                    return f"{path}.{inner[0]}", inner[1]
            elif self.items is not None and not _is_a(item, self.items):
                return path, f"expected {_expected(self.items, None)}, got {json_type_name(item)}"
            if items_non_empty and isinstance(item, str) and not item.strip():
                return path, "empty"
        return None


@dataclass(frozen=True)
class AnnotationSchema:
    """The format of one annotation entry.

    Attributes:
        fields: Its keys (other keys are allowed and ignored).
        description: The file's format in words, for the message when the file is not a list of entries.
    """

    fields: tuple[Field, ...]
    description: str = "a JSON list of objects"

    def problem(self, entry: dict) -> tuple[str, str] | None:
        """(key path, problem) of the first thing wrong with one entry, or None (uniqueness aside)."""
        for field in self.fields:
            if entry.get(field.key) is None:
                if field.required:
                    return field.key, "missing" if field.key not in entry else "null"
                continue
            found = field.problem(entry[field.key])
            if found:
                return found
        return None

    def check_object(self, obj: Any, source: str) -> None:
        """Raise an :class:`AnnotationError` unless ``obj`` (a whole file that is one object) fits."""
        if not isinstance(obj, dict):
            raise AnnotationError(source, None, None, f"expected {self.description}, got {json_type_name(obj)}")
        found = self.problem(obj)
        if found:
            raise AnnotationError(source, None, *found)


def validate_entries(
    entries: Any,
    schema: AnnotationSchema,
    source: str,
    policy: str,
    counter: BadSampleCounter,
    offset: int = 0,
) -> list[dict]:
    """The entries that fit ``schema``, checked once at load.

    Args:
        entries: The parsed annotation file (must be a list).
        schema: The format of each entry.
        source: The file, named in every message.
        policy: ``error`` raises on the first bad entry; ``skip`` drops it, counting it by reason in
            ``counter`` and logging it.
        counter: Where skipped entries are counted.
        offset: Added to indices in messages (for entries that are a slice of a larger list).

    Raises:
        AnnotationError: The file is not a list, or (``error``) an entry does not fit.
    """
    if not isinstance(entries, list):
        raise AnnotationError(source, None, None, f"expected {schema.description}, got {json_type_name(entries)}")
    unique = [f for f in schema.fields if f.unique]
    seen: dict[str, dict[Hashable, int]] = {f.key: {} for f in unique}
    kept: list[dict] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, dict):
            found = schema.problem(entry)
        else:
            found = ("", f"expected an object, got {json_type_name(entry)}")
        if found is None:
            found = _duplicate(entry, unique, seen, i + offset)
        if found is None:
            kept.append(entry)
            continue
        err = AnnotationError(source, i + offset, found[0] or None, found[1])
        if policy == "error":
            raise AnnotationError(source, i + offset, found[0] or None, f"{found[1]}. {FIX_HINT}") from None
        counter.record(source, err.reason, err.kind)
    if len(kept) < len(entries):
        logger.warning(
            "%s: %s: kept %d of %d annotation entries (%s)",
            counter.dataset,
            source,
            len(kept),
            len(entries),
            counter.summary(),
        )
    return kept


def _duplicate(
    entry: dict, unique: list[Field], seen: dict[str, dict[Hashable, int]], index: int
) -> tuple[str, str] | None:
    for field in unique:
        value = entry.get(field.key)
        if value is None:
            continue
        first = seen[field.key].setdefault(value, index)
        if first != index:
            return field.key, f"duplicate value {value!r} (first at entry {first})"
    return None

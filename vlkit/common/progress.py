"""Progress bars for long loops (training, evaluation, encoding), drawn on the main rank only."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from vlkit.common.config import ConfigError
from vlkit.common.dist import is_main_process

T = TypeVar("T")
PROGRESS_MODES = ("auto", "on", "off")


def progress_enabled(mode: str) -> bool:
    """Whether to draw bars for ``run.progress`` (``auto``: main rank and stderr is a terminal)."""
    mode = {"true": "on", "false": "off"}.get(str(mode).lower(), str(mode))  # YAML reads a bare off as False
    if mode not in PROGRESS_MODES:
        raise ConfigError(f"run.progress={mode!r} is not one of {', '.join(PROGRESS_MODES)}.")
    if not is_main_process() or mode == "off":
        return False
    return mode == "on" or sys.stderr.isatty()


def progress(iterable: Iterable[T], total: int | None, desc: str, mode: str = "auto", initial: int = 0) -> Iterator[T]:
    """``iterable`` wrapped in a tqdm bar with ETA when :func:`progress_enabled`, else unchanged."""
    if not progress_enabled(mode):
        yield from iterable
        return
    from tqdm.auto import tqdm

    bar = tqdm(iterable, total=total, desc=desc, initial=initial, dynamic_ncols=True, leave=False)
    try:
        yield from bar
    finally:
        bar.close()

"""Markdown tables of an ablation run over several seeds: mean ± std per cell, and paired differences.

A table is a title, rows (label, tag) and columns; ``values(seed, tag)`` gives one row's numbers for one
seed (``None`` where a number is missing: shown as "—", never as zero). With several seeds each table is
followed by the paired differences of its other rows from its first (same seed, then mean ± std over seeds):
the seed moves every row of a table together, so these show a row's effect more sharply than the spread of
the rows themselves. The BLIP reproduction (projects/blip/reproduction/reproduce.py) renders Tables 1-3 with it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TableSpec:
    title: str
    rows: list[tuple[str, str]]  # (label, tag); the first row is the reference of the paired differences
    cols: list[str]
    paired_cols: list[str] = field(default_factory=list)  # columns whose paired differences are shown
    digits: dict[str, int] = field(default_factory=dict)  # decimals per column (default 1)


def summarise(values: Sequence[float | None], digits: int = 1) -> str:
    """ "mean ± sample std" of the values present, the value alone for one, "—" for none."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "—"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    return f"{statistics.mean(vals):.{digits}f} ± {statistics.stdev(vals):.{digits}f}"


def paired_differences(
    seeds: Sequence[int], values: Callable[[int, str], dict[str, float | None]], row: str, ref: str, col: str
) -> list[float | None]:
    """``row`` minus ``ref`` in column ``col``, seed by seed (None where either is missing)."""
    out = []
    for s in seeds:
        a, b = values(s, row).get(col), values(s, ref).get(col)
        out.append(None if a is None or b is None else a - b)
    return out


def render(
    seeds: Sequence[int], specs: Sequence[TableSpec], values: Callable[[int, str], dict[str, float | None]]
) -> str:
    """The tables of ``specs`` over ``seeds`` as markdown."""
    seeds = sorted(seeds)
    out = [f"Seeds: {', '.join(map(str, seeds))}. Values are mean ± standard deviation over seeds.", ""]
    for spec in specs:
        out += [f"### {spec.title}", "", *_header(spec.cols)]
        for label, tag in spec.rows:
            cells = [summarise([values(s, tag).get(c) for s in seeds], spec.digits.get(c, 1)) for c in spec.cols]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
        if len(seeds) > 1 and spec.paired_cols:
            (ref_label, ref_tag) = spec.rows[0]
            out += [f'Paired difference from "{ref_label}" (same seed):', "", *_header(spec.paired_cols)]
            for label, tag in spec.rows[1:]:
                cells = [
                    _signed(summarise(paired_differences(seeds, values, tag, ref_tag, c), spec.digits.get(c, 1)))
                    for c in spec.paired_cols
                ]
                out.append(f"| {label} | " + " | ".join(cells) + " |")
            out.append("")
    return "\n".join(out)


def _header(cols: Sequence[str]) -> list[str]:
    return ["| | " + " | ".join(cols) + " |", "| --- " * (len(cols) + 1) + "|"]


def _signed(cell: str) -> str:
    return cell if cell == "—" or cell.startswith("-") else "+" + cell


__all__ = ["TableSpec", "paired_differences", "render", "summarise"]

"""Webdataset tar shards read record by record, with every way a shard can lose data reported, never silent.

A record is a run of consecutive members sharing a key (``dir/key.jpg``, ``dir/key.txt``), as webdataset
groups them. Python's ``tarfile`` (and webdataset on top of it) simply stops at a shard that ends early, so
a download cut short yields fewer samples with no message; here the reader checks the end-of-archive marker
and every member's size, and reports a :class:`ShardProblem` instead.
"""

from __future__ import annotations

import glob
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_KEY = re.compile(r"^((?:.*/)?[^./]+)\.([^/]*)$")  # as webdataset: the key ends at the basename's first dot
ENDS_MID_RECORD = "shard ends mid-record"
EMPTY_SHARD = "empty shard"
UNREADABLE_SHARD = "unreadable shard"


@dataclass(frozen=True)
class TarRecord:
    """One sample of a shard (the path as given): its key (with any directory) and members (extension → bytes)."""

    shard: str
    key: str
    members: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ShardProblem:
    """Data a shard (the path as given) lost: ``kind`` (a module constant), what happened, and records it cost.

    ``records`` counts the records that were started but cannot be used (0 or 1: the one in progress when
    the shard ended); records after a cut are unknowable.
    """

    shard: str
    kind: str
    detail: str
    records: int = 0

    @property
    def message(self) -> str:
        return f"{self.shard}: {self.kind} ({self.detail})"


def expand_shard_pattern(pattern: str, what: str = "capfilt.data.shards") -> list[str]:
    """Expand ``a/web-{000000..000003}.tar`` brace ranges and globs into a sorted file list.

    Raises:
        FileNotFoundError: a listed shard is missing (``what`` names the config key to check).
    """
    match = re.search(r"\{(\d+)\.\.(\d+)\}", pattern)
    if match:
        lo, hi = match.group(1), match.group(2)
        width = len(lo)
        names = [
            pattern[: match.start()] + str(i).zfill(width) + pattern[match.end() :] for i in range(int(lo), int(hi) + 1)
        ]
    else:
        names = sorted(glob.glob(pattern)) or [pattern]
    missing = [n for n in names if not Path(n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{what}: {len(missing)} shard file(s) not found, e.g. {missing[0]!r}. Check the pattern {pattern!r}."
        )
    return names


def iter_tar_records(path: str) -> Iterator[TarRecord | ShardProblem]:
    """The records of one tar shard, in order, then a :class:`ShardProblem` if it lost data.

    A shard that cannot be opened is an ``unreadable shard``; one with no record an ``empty shard``; one
    that stops before its end-of-archive marker (inside a member, or between members) ``ends mid-record``:
    the record in progress then is reported with it, not yielded, since its remaining members are lost.
    """
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.ReadError, OSError) as err:
        empty = Path(path).is_file() and Path(path).stat().st_size == 0
        yield ShardProblem(path, EMPTY_SHARD if empty else UNREADABLE_SHARD, "0 bytes" if empty else str(err))
        return
    key: str | None = None
    members: dict[str, bytes] = {}
    with tar:
        try:
            for info in tar:
                if not info.isfile():
                    continue
                match = _KEY.match(info.name)
                if match is None:  # no extension, or a hidden file: not part of any record
                    continue
                if match.group(1) != key:  # a new key: the previous record is complete
                    if key is not None:
                        yield TarRecord(path, key, members)
                    key, members = match.group(1), {}
                fobj = tar.extractfile(info)
                data = fobj.read() if fobj is not None else b""
                if len(data) != info.size:
                    raise tarfile.ReadError(f"member {info.name} has {len(data)} of its {info.size} bytes")
                members[match.group(2).lower()] = data
            ended = _has_end_marker(tar)
            detail = "no end-of-archive marker"
        except (tarfile.ReadError, EOFError, OSError) as err:
            ended, detail = False, str(err)
    if not ended:
        where = f"record {key!r} incomplete, {len(members)} member(s) read" if key else "before any record"
        yield ShardProblem(path, ENDS_MID_RECORD, f"{detail}; {where}", records=int(key is not None))
    elif key is not None:
        yield TarRecord(path, key, members)
    else:
        yield ShardProblem(path, EMPTY_SHARD, "no records")


def _has_end_marker(tar: tarfile.TarFile) -> bool:
    """Whether the archive ends with the zero block ``tarfile`` and GNU tar write when they close it."""
    fileobj = tar.fileobj
    fileobj.seek(tar.offset)
    return fileobj.read(tarfile.BLOCKSIZE) == tarfile.NUL * tarfile.BLOCKSIZE

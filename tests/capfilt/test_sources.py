"""A json web source is parsed once for all its shards, and again only when the file changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vlkit.capfilt import sources
from vlkit.capfilt.config import WebDataConfig


def test_json_shards_parse_the_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "web.json"
    path.write_text(json.dumps([{"image": f"{i}.jpg", "caption": f"text {i}"} for i in range(10)]))
    cfg = WebDataConfig(annotations=str(path))
    parses = []
    real_load = json.load
    monkeypatch.setattr(sources.json, "load", lambda f: parses.append(1) or real_load(f))
    sources._parse_json_list.cache_clear()

    shards = sources.list_shards(cfg, shard_size=3)
    items = [item for shard in shards for item in sources.iter_shard(shard, cfg)]
    assert [s.stop - s.start for s in shards] == [3, 3, 3, 1]
    assert [i.caption for i in items] == [f"text {i}" for i in range(10)] and len(parses) == 1

    path.write_text(json.dumps([{"image": "new.jpg", "caption": "changed"}]))
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    assert [i.caption for s in sources.list_shards(cfg, 3) for i in sources.iter_shard(s, cfg)] == ["changed"]
    assert len(parses) == 2

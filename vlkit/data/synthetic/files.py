"""Small file helpers shared by the synthetic world's writers."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path


def dump_json(path: Path, obj: object) -> None:
    """Write ``obj`` as compact UTF-8 json (deterministic: keys in insertion order), creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (the same image in two datasets costs no space), copying where links fail."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


__all__ = ["dump_json", "link_or_copy"]

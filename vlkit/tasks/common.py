"""Helpers shared by the BLIP tasks."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from torch import nn

logger = logging.getLogger(__name__)


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DDP wrapper (inference methods live on the model itself)."""
    return model.module if hasattr(model, "module") else model


def write_results(results: Any, output_dir: Path | None, name: str) -> Path | None:
    """Write ``results`` as ``<output_dir>/<name>.json`` (None when no output dir is set)."""
    if output_dir is None:
        return None
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / f"{name}.json"
    path.write_text(json.dumps(results), encoding="utf-8")
    logger.info("wrote %s", path)
    return path


def dedupe(results: list[dict], key: str) -> list[dict]:
    """Keep the first result per ``key`` (distributed evaluation can see an item twice)."""
    seen, out = set(), []
    for r in results:
        if r[key] not in seen:
            seen.add(r[key])
            out.append(r)
    return out

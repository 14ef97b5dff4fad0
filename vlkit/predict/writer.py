"""Where ``vlkit predict`` writes, resumably: a jsonl file of records, or embeddings in safetensors.

Both writers know which ids they already hold (``done_ids``), so a re-run (after a kill, or with more
inputs) predicts only the rest. Records are appended as each batch finishes; a record cut off by a kill
mid-line is dropped (and predicted again) on the next run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)


def bad_inputs_path(out: Path) -> Path:
    """The side file listing this run's bad inputs: ``results.jsonl`` -> ``results.bad.jsonl``."""
    return out.with_name(f"{out.stem}.bad.jsonl")


class JsonlWriter:
    """``results.jsonl``: one json object per line, each with the image's ``id``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def done_ids(self) -> set[str]:
        """Ids already written; a last line without its newline (cut by a kill) is removed from the file."""
        if not self.path.is_file():
            return set()
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            logger.warning("%s: dropping an incomplete last record (the previous run was interrupted)", self.path)
            with self.path.open("r+b") as f:
                f.truncate(end)
        ids = set()
        for n, line in enumerate(data[:end].decode("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                ids.add(str(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                raise ValueError(
                    f"{self.path} line {n} is not a vlkit predict record (a json object with an 'id'): "
                    "write to another --out, or remove that line."
                ) from None
        return ids

    def write(self, records: list[dict[str, Any]]) -> None:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        for record in records:
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class EmbeddingWriter:
    """``features.safetensors`` (``features``: ``[N, D]`` float32, L2-normalised) and ``features.ids.json``.

    While running, rows go to part files in ``features.safetensors.parts/`` (``part_rows`` each); :meth:`close`
    merges them into the two final files. Row ``i`` of ``features`` belongs to ``ids[i]``.
    """

    def __init__(self, path: Path, part_rows: int = 2048) -> None:
        if path.suffix != ".safetensors":
            raise ValueError(f"--out {path}: embed writes safetensors; give a path ending in .safetensors.")
        self.path, self.part_rows = path, part_rows
        self.ids_path = path.with_suffix(".ids.json")
        self.parts_dir = path.with_name(path.name + ".parts")
        self._ids: list[str] = []
        self._rows: list[torch.Tensor] = []

    def _parts(self) -> list[Path]:
        return sorted(self.parts_dir.glob("part-*.safetensors")) if self.parts_dir.is_dir() else []

    def _read(self, path: Path) -> tuple[list[str], torch.Tensor]:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return json.loads(f.metadata()["ids"]), f.get_tensor("features")

    def done_ids(self) -> set[str]:
        ids: set[str] = set()
        if self.path.is_file():
            if not self.ids_path.is_file():
                raise FileNotFoundError(
                    f"{self.path} has no {self.ids_path.name} beside it; remove it or restore that."
                )
            ids.update(json.loads(self.ids_path.read_text(encoding="utf-8")))
        for part in self._parts():
            ids.update(self._read(part)[0])
        return ids

    def write(self, records: list[dict[str, Any]]) -> None:
        for record in records:
            self._ids.append(record["id"])
            self._rows.append(record["embedding"].detach().float().cpu())
        if len(self._ids) >= self.part_rows:
            self._flush()

    def _flush(self) -> None:
        from safetensors.torch import save_file

        if not self._ids:
            return
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        index = len(self._parts())
        target = self.parts_dir / f"part-{index:06d}.safetensors"
        tmp = target.with_name(f".{target.name}.tmp")
        save_file({"features": torch.stack(self._rows).contiguous()}, str(tmp), metadata={"ids": json.dumps(self._ids)})
        os.replace(tmp, target)
        self._ids, self._rows = [], []

    def close(self) -> None:
        """Write the remaining rows and merge everything (earlier runs' rows first) into the final files."""
        from safetensors.torch import load_file, save_file

        self._flush()
        parts = self._parts()
        if not parts:
            return
        ids, blocks = [], []
        if self.path.is_file():
            ids += json.loads(self.ids_path.read_text(encoding="utf-8"))
            blocks.append(load_file(str(self.path))["features"])
        for part in parts:
            part_ids, features = self._read(part)
            ids += part_ids
            blocks.append(features)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        save_file({"features": torch.cat(blocks).contiguous()}, str(tmp))
        tmp_ids = self.ids_path.with_name(f".{self.ids_path.name}.tmp")
        tmp_ids.write_text(json.dumps(ids), encoding="utf-8")
        os.replace(tmp, self.path)
        os.replace(tmp_ids, self.ids_path)
        shutil.rmtree(self.parts_dir)


def load_embeddings(path: str | Path) -> tuple[list[str], torch.Tensor]:
    """``(ids, features)`` written by ``vlkit predict embed``."""
    from safetensors.torch import load_file

    path = Path(path)
    return json.loads(path.with_suffix(".ids.json").read_text(encoding="utf-8")), load_file(str(path))["features"]


__all__ = ["EmbeddingWriter", "JsonlWriter", "bad_inputs_path", "load_embeddings"]

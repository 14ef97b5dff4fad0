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

    While running, rows go to part files in ``features.safetensors.parts/`` (``part_rows`` each, named uniquely per
    run); :meth:`close` merges them into the final files. Row ``i`` of ``features`` belongs to ``ids[i]``.

    The merge is crash-safe: the final file's own metadata holds its ids and the names of the parts merged into
    it, and replacing it is the one commit point. A run that stops after that (before ``features.ids.json`` is
    rewritten or the parts are deleted) is repaired by the next one: the ids file is rewritten from the metadata
    and the merged parts are deleted, so no row is lost or written twice.
    """

    def __init__(self, path: Path, part_rows: int = 2048) -> None:
        if path.suffix != ".safetensors":
            raise ValueError(f"--out {path}: embed writes safetensors; give a path ending in .safetensors.")
        self.path, self.part_rows = path, part_rows
        self.ids_path = path.with_suffix(".ids.json")
        self.parts_dir = path.with_name(path.name + ".parts")
        self._token = os.urandom(4).hex()
        self._ids: list[str] = []
        self._rows: list[torch.Tensor] = []

    def _parts(self) -> list[Path]:
        return sorted(self.parts_dir.glob("part-*.safetensors")) if self.parts_dir.is_dir() else []

    def _read(self, path: Path) -> tuple[list[str], torch.Tensor]:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return json.loads(f.metadata()["ids"]), f.get_tensor("features")

    def _final_ids(self) -> list[str]:
        """The final file's ids, after repairing what an interrupted merge left (see the class docstring)."""
        if not self.path.is_file():
            return []
        from safetensors import safe_open

        with safe_open(str(self.path), framework="pt") as f:
            meta = f.metadata() or {}
        if "ids" not in meta:  # written before the ids moved into the file: features.ids.json is the record
            if not self.ids_path.is_file():
                raise FileNotFoundError(
                    f"{self.path} has no {self.ids_path.name} beside it; remove it or restore that."
                )
            return json.loads(self.ids_path.read_text(encoding="utf-8"))
        ids = json.loads(meta["ids"])
        if not self.ids_path.is_file() or json.loads(self.ids_path.read_text(encoding="utf-8")) != ids:
            self._write_ids(ids)
        for name in json.loads(meta.get("merged_parts", "[]")):
            (self.parts_dir / name).unlink(missing_ok=True)
        return ids

    def _write_ids(self, ids: list[str]) -> None:
        tmp = self.ids_path.with_name(f".{self.ids_path.name}.tmp")
        tmp.write_text(json.dumps(ids), encoding="utf-8")
        os.replace(tmp, self.ids_path)

    def done_ids(self) -> set[str]:
        ids = set(self._final_ids())
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
        target = self.parts_dir / f"part-{index:06d}-{self._token}.safetensors"
        tmp = target.with_name(f".{target.name}.tmp")
        save_file({"features": torch.stack(self._rows).contiguous()}, str(tmp), metadata={"ids": json.dumps(self._ids)})
        os.replace(tmp, target)
        self._ids, self._rows = [], []

    def close(self) -> None:
        """Write the remaining rows and merge everything (earlier runs' rows first) into the final files."""
        from safetensors.torch import load_file, save_file

        self._flush()
        ids = self._final_ids()  # first: deletes parts an interrupted merge had already taken in
        parts = self._parts()
        if not parts:
            if self.parts_dir.is_dir():
                shutil.rmtree(self.parts_dir)
            return
        blocks = [load_file(str(self.path))["features"]] if self.path.is_file() else []
        for part in parts:
            part_ids, features = self._read(part)
            ids += part_ids
            blocks.append(features)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        metadata = {"ids": json.dumps(ids), "merged_parts": json.dumps([p.name for p in parts])}
        save_file({"features": torch.cat(blocks).contiguous()}, str(tmp), metadata=metadata)
        os.replace(tmp, self.path)  # the commit point
        self._write_ids(ids)
        shutil.rmtree(self.parts_dir)


def load_embeddings(path: str | Path) -> tuple[list[str], torch.Tensor]:
    """``(ids, features)`` written by ``vlkit predict embed``."""
    from safetensors.torch import load_file

    path = Path(path)
    return json.loads(path.with_suffix(".ids.json").read_text(encoding="utf-8")), load_file(str(path))["features"]


__all__ = ["EmbeddingWriter", "JsonlWriter", "bad_inputs_path", "load_embeddings"]

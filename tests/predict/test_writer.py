"""EmbeddingWriter's merge: a run stopped at any point of it loses no row and writes none twice."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vlkit.predict.writer import EmbeddingWriter, load_embeddings


def _records(names: list[str]) -> list[dict]:
    return [{"id": n, "embedding": torch.full((4,), float(i))} for i, n in enumerate(names, start=len(names))]


def _run(out: Path, names: list[str]) -> None:
    writer = EmbeddingWriter(out, part_rows=2)
    todo = [r for r in _records(names) if r["id"] not in writer.done_ids()]
    writer.write(todo)
    writer.close()


@pytest.mark.parametrize("crash_at", ["ids file", "parts removal"])
def test_a_merge_stopped_after_its_commit_is_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crash_at: str
) -> None:
    out = tmp_path / "features.safetensors"
    _run(out, ["a", "b", "c"])
    expected_rows = {n: load_embeddings(out)[1][i] for i, n in enumerate(load_embeddings(out)[0])}

    writer = EmbeddingWriter(out, part_rows=2)
    new = _records(["d", "e"])
    expected_rows.update({r["id"]: r["embedding"] for r in new})
    writer.write(new)

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt("killed")

    target = "vlkit.predict.writer.EmbeddingWriter._write_ids" if crash_at == "ids file" else "shutil.rmtree"
    with monkeypatch.context() as m:
        m.setattr(target, crash)
        with pytest.raises(KeyboardInterrupt):
            writer.close()
    assert (tmp_path / "features.safetensors.parts").is_dir()  # the crash left the merged parts behind

    _run(out, ["a", "b", "c", "d", "e", "f"])  # the next run: only f is new
    ids, features = load_embeddings(out)
    assert sorted(ids) == ["a", "b", "c", "d", "e", "f"] and len(ids) == features.shape[0] == 6
    for i, name in enumerate(ids[:5]):
        torch.testing.assert_close(features[i], expected_rows[name])
    assert not (tmp_path / "features.safetensors.parts").exists()


def test_parts_of_a_run_stopped_before_the_merge_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "features.safetensors"
    writer = EmbeddingWriter(out, part_rows=2)
    records = _records(["a", "b", "c"])
    writer.write(records[:2])  # a part of two rows is on disk
    writer.write(records[2:])  # "c" is still in memory when the run stops
    assert EmbeddingWriter(out).done_ids() == {"a", "b"}
    _run(out, ["a", "b", "c"])
    ids, features = load_embeddings(out)
    assert ids == ["a", "b", "c"] and features.shape == (3, 4)

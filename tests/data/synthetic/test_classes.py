"""``vlkit data synth-classes``: one folder per class, one object per image, the same bytes for a seed."""

from __future__ import annotations

from pathlib import Path

from vlkit.cli import run


def test_synth_classes_writes_one_folder_per_colour(tmp_path: Path) -> None:
    args = ["data", "synth-classes", "--per-class", "2", "--image-size", "32"]
    assert run([*args, "--out", str(tmp_path / "a")]) == 0
    assert run([*args, "--out", str(tmp_path / "b")]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.jpg"))
    assert len(files) == 12 and {f.parts[1] for f in files} == {"red", "green", "blue", "yellow", "purple", "orange"}
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert run([*args, "--attribute", "shape", "--out", str(tmp_path / "s")]) == 0
    assert len(list((tmp_path / "s" / "val").iterdir())) == 5

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from vlkit.runners import checkpointing
from vlkit.runners.checkpointing import (
    CheckpointManager,
    atomic_save,
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint_file,
    restore_rng_state,
)


def test_failure_mid_write_keeps_previous_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ckpt.pth"
    atomic_save({"w": torch.ones(3)}, path)
    real_save = torch.save

    def crashing_save(obj: object, f: object) -> None:
        real_save({"w": torch.zeros(1000)}, f)  # some bytes reach the temp file...
        raise OSError("disk full")  # ...then the write dies

    monkeypatch.setattr(checkpointing.torch, "save", crashing_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_save({"w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(load_checkpoint_file(path)["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"]  # no temp file left behind


def test_latest_picks_highest_complete_step_and_ignores_temp_files(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, keep_last_n=2)
    for step in (3, 10, 7):
        manager.save({"step": step}, step)
    # an interrupted write of a newer checkpoint leaves only a temp file
    (manager.dir / ".checkpoint_step000000020.pth.tmp.123").write_bytes(b"partial")
    manager.save_best({"step": -1})
    assert latest_checkpoint(manager.dir) == manager.dir / "checkpoint_step000000010.pth"
    assert load_checkpoint_file(manager.latest())["step"] == 10
    kept = sorted(p.name for p in manager.dir.glob("checkpoint_step*.pth"))
    # keep_last_n=2 prunes by step after each complete write; the best one is separate
    assert kept == ["checkpoint_step000000007.pth", "checkpoint_step000000010.pth"]
    assert manager.best_path.is_file()


def test_latest_on_missing_dir_is_none(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "nope") is None


def test_rng_state_round_trip_through_weights_only_file(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's legacy state
    atomic_save({"rng": capture_rng_state()}, tmp_path / "rng.pth")
    expected = (random.random(), np.random.randn(), torch.rand(3))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    restore_rng_state(load_checkpoint_file(tmp_path / "rng.pth")["rng"])  # weights_only=True inside
    got = (random.random(), np.random.randn(), torch.rand(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])

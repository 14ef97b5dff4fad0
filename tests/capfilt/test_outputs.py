"""The CapFilt merge streams: byte-identical outputs, and memory that does not grow with the web set."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from tests.capfilt.conftest import fake_caption_fn, fake_match_fn, fake_transform
from vlkit.capfilt.config import CapFiltConfig, ModelRef, WebDataConfig
from vlkit.capfilt.job import CapFiltJob
from vlkit.capfilt.outputs import JsonListWriter, ShardResultFiles, _json_bytes, merge_shard_results


@pytest.mark.parametrize(
    "entries",
    [[], [{"image": "a.jpg", "caption": "ça va", "itm_score": 0.5}], [{"b": [1, {"c": None}], "a": "x\ny"}, 3, "s"]],
)
def test_json_list_writer_matches_json_dumps(tmp_path: Path, entries: list) -> None:
    writer = JsonListWriter(tmp_path / "list.json")
    for entry in entries:
        writer.add(entry)
    assert not (tmp_path / "list.json").exists()  # only complete lists appear under the name
    writer.close()
    assert (tmp_path / "list.json").read_bytes() == _json_bytes(entries)
    assert [p.name for p in tmp_path.iterdir()] == ["list.json"]


def _finished_job(root: Path, num_images: int) -> CapFiltConfig:
    """A CapFilt run (stand-in models) over ``num_images`` synthetic web images in shards of 25."""
    from vlkit.data.synthetic.web_noise import write_web

    write_web(root, seed=0, n=num_images, noise=0.4, image_size=16, shard_size=25)
    cfg = CapFiltConfig(
        captioner=ModelRef("fake", "fake"),
        filter=ModelRef("fake", "fake"),
        data=WebDataConfig(format="wds", shards=str(root / "web" / "shards" / "web-*.tar")),
        num_captions=2,
        batch_size=10,
        output_dir=str(root / "out"),
        output_formats=["json", "wds"],
        output_shard_size=40,
        progress="off",
    )
    CapFiltJob(cfg, fake_caption_fn, fake_match_fn, fake_transform).run()
    return cfg


def _merge_peak(cfg: CapFiltConfig, out: Path) -> tuple[int, dict]:
    results = ShardResultFiles(sorted((Path(cfg.output_dir) / "work").glob("[0-9]*.json")))
    tracemalloc.start()
    try:
        report = merge_shard_results(cfg, results, out, 0.5)
        return tracemalloc.get_traced_memory()[1], report
    finally:
        tracemalloc.stop()


def test_merge_memory_does_not_grow_with_the_web_set(tmp_path: Path) -> None:
    """Holding every shard's results (as the merge once did) costs about 4x the memory for 4x the images."""
    small = _finished_job(tmp_path / "small", 100)
    large = _finished_job(tmp_path / "large", 400)
    small_peak, _ = _merge_peak(small, tmp_path / "small" / "again")
    large_peak, report = _merge_peak(large, tmp_path / "large" / "again")
    assert report["counts"]["images"] == 400 and report["pairs"]["web"] + report["pairs"]["synthetic"] > 0
    assert large_peak < 1.5 * small_peak, (small_peak, large_peak)
    # the merge read the shard result files one by one and wrote the same outputs as the job's own merge
    for name in ("bootstrapped.json", "report.json", "examples.json"):
        first = (tmp_path / "large" / "out" / name).read_text().replace(str(tmp_path / "large" / "out"), "OUT")
        again = (tmp_path / "large" / "again" / name).read_text().replace(str(tmp_path / "large" / "again"), "OUT")
        assert json.loads(first) == json.loads(again), name
    shards = sorted(p.name for p in (tmp_path / "large" / "again" / "shards").iterdir())
    assert shards == sorted(p.name for p in (tmp_path / "large" / "out" / "shards").iterdir()) and shards

"""projects/blip/reproduction/reproduce.py: the stage plan, the tables, and a smoke run of Table 1."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.projects import REPO, load_script


def _load():
    return load_script("reproduce")


def test_stage_plan_covers_every_table_once() -> None:
    rep = _load()
    stages = rep.seed_stages(3, [1, 2, 3], pretrain_steps=51)
    names = [s["name"] for s in stages]
    assert len(names) == len(set(names))
    assert names[:3] == ["pre", "cap", "ret"]
    for v in ("F", "C", "CF", "CFbeam", "share_all", "share_none"):
        assert {f"pre_{v}", f"cap_{v}", f"ret_{v}"} <= set(names), v
    by_name = {s["name"]: s for s in stages}
    assert "capfilt.num_captions=0" in by_name["capfilt_F"]["options"]
    assert "capfilt.decoding.use_nucleus_sampling=false" in by_name["capfilt_CFbeam"]["options"]
    assert "model.share_strategy=none" in by_name["pre_share_none"]["options"]
    assert all("run.seed=3" in s["options"] for s in stages if s["kind"] == "train")
    assert "capfilt.seed=3" in by_name["capfilt_CF"]["options"]
    # each bootstrapped pre-training reads its own CapFilt output and gets the same update budget
    assert any("stages.capfilt_C.output_dir" in o for o in by_name["pre_C"]["options"])
    assert "run.max_train_steps_per_epoch=51" in by_name["pre_C"]["options"]
    # Table 3 alone needs no CapFilt; variants=[] is just the shared stages; the simple tokenizer reaches cap* only
    assert not any(s["kind"] == "capfilt" for s in rep.seed_stages(0, [3], None))
    assert [s["name"] for s in rep.seed_stages(0, [1, 2, 3], None, variants=[])] == ["pre", "cap", "ret"]
    only = rep.seed_stages(0, [1, 2], None, variants=["C"], caption_tokenizer="simple")
    assert [s["name"] for s in only] == ["pre", "cap", "ret", "capfilt_C", "pre_C", "cap_C", "ret_C"]
    tok = [s["name"] for s in only if "run.caption_tokenizer=simple" in s["options"]]
    assert tok == ["cap", "cap_C"]
    # a warm start initialises every pre-training and nothing else (fine-tuning starts from pre-training)
    warm = rep.seed_stages(0, [1, 3], None, variants=["C", "share_all"], warm_start="/w.safetensors")
    assert [
        s["name"]
        for s in warm
        if {"model.pretrained=/w.safetensors", "model.load_pretrained=true"} <= set(s["options"])
    ] == [
        "pre",
        "pre_C",
        "pre_share_all",
    ]
    assert rep._drop_option(["--seeds", "0", "1", "--smoke", "--variants", "F"], "--seeds") == [
        "--smoke",
        "--variants",
        "F",
    ]
    for s in stages:
        assert (REPO / s["cfg"]).is_file(), s["cfg"]


def test_fast_preset_points_every_stage_at_its_world(tmp_path: Path) -> None:
    rep = _load()
    stages = rep.seed_stages(1, [1, 3], None, variants=["CF", "share_none"], preset="fast", world="/w")
    by_name = {s["name"]: s for s in stages}
    for s in stages:
        assert not any("{world}" in o for o in s["options"]), s["name"]
    assert "datasets.shapes_web.build_info.root=/w/web" in by_name["pre"]["options"]
    assert "datasets.shapes_web.build_info.root=/w/web" in by_name["pre_share_none"]["options"]
    assert "datasets.shapes_coco_caption.build_info.root=/w/coco" in by_name["cap_CF"]["options"]
    assert "datasets.shapes_coco_retrieval.build_info.root=/w/coco" in by_name["ret"]["options"]
    assert "capfilt.data.noise_labels=/w/web/noise_labels.json" in by_name["capfilt_CF"]["options"]
    # the bootstrapped pre-training reads CapFilt's output, not the world, with the fast budget and negatives
    boot = by_name["pre_CF"]["options"]
    assert not any("/w/" in o for o in boot)
    assert {"model.itm_negatives=random", "run.init_lr=3e-4", "run.max_epoch=2"} <= set(boot)
    # every model and processor of the fast preset works at its image size, the warm start included
    size = rep.FAST_IMAGE_SIZE
    for name in ("pre", "cap", "ret", "pre_CF", "cap_CF", "ret_share_none"):
        assert f"model.image_size={size}" in by_name[name]["options"], name
    assert f"datasets.shapes_coco_retrieval.vis_processor.eval.image_size={size}" in by_name["ret"]["options"]
    assert f"datasets.image_text_json.vis_processor.train.image_size={size}" in boot
    assert f"capfilt.filter.overrides.image_size={size}" in by_name["capfilt_CF"]["options"]
    # the full preset adds nothing to the YAMLs
    assert rep.seed_stages(0, [1], None, variants=[])[0]["options"] == ["run.seed=0"]
    # the fast preset's warm start is made once and then reused
    made = tmp_path / "warm.safetensors"
    made.write_bytes(b"x")
    assert rep.ensure_warm_start(made) == made.resolve() and made.read_bytes() == b"x"


def test_tables_average_over_seeds_and_show_gaps() -> None:
    rep = _load()

    def seed_result(r1: float, cider: float) -> dict:
        ret = {"metrics": {"test": {"txt_r1": r1, "img_r1": r1 / 2, "r_mean": 3 * r1}}}
        cap = {"metrics": {"test": {"CIDEr": cider, "Bleu_4": 0.1}}}
        cf = {
            "counts": {"synthetic_kept": 30, "synthetic_removed": 10, "web_removed": 5},
            "noise_filter": {"precision": 0.8, "recall": 0.5, "score_auc": 0.75},
        }
        return {"ret": ret, "cap": cap, "ret_CF": ret, "cap_CF": cap, "capfilt_CF": cf}

    text = rep.render_tables({0: seed_result(10.0, 0.5), 1: seed_result(20.0, 0.7)}, [1, 2])
    assert "| no bootstrap | 15.0 ± 7.1 | 7.5 ± 3.5 | 45.0 ± 21.2 | 60.0 ± 14.1 | 10.0 ± 0.0 | — | — | — |" in text
    cf_row = "| +C+F | 15.0 ± 7.1 | 7.5 ± 3.5 | 45.0 ± 21.2 | 60.0 ± 14.1 | 10.0 ± 0.0 | 80.0 ± 0.0 | 50.0 ± 0.0 |"
    assert cf_row + " 0.75 ± 0.00 |" in text
    assert "| +F | — |" in text  # not run: shown as missing, never as zero
    # paired by seed: +C+F equals no bootstrap in every seed here, so each difference is exactly zero
    assert "| +C+F | +0.0 ± 0.0 | +0.0 ± 0.0 | +0.0 ± 0.0 | +0.0 ± 0.0 | +0.0 ± 0.0 |" in text
    assert "| nucleus (top-p 0.9) | 25.0 ± 0.0 |" in text  # noise ratio = 10 removed of 40 synthetic


def _fake_process(seconds: float, code: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", f"import sys, time; time.sleep({seconds}); sys.exit({code})"])


def test_schedule_starts_a_seeds_variants_as_soon_as_its_base_is_done() -> None:
    rep = _load()
    started_at: dict[tuple[int, str], float] = {}
    base_seconds = {0: 0.1, 1: 2.0}  # seed 1's shared stages are slow

    def start(seed: int, variant: str) -> tuple[str, subprocess.Popen]:
        started_at[(seed, variant)] = time.monotonic()
        return f"seed{seed}_{variant}", _fake_process(base_seconds[seed] if variant == "base" else 0.1)

    order = rep.schedule([0, 1], ["a", "b"], 2, start, poll_seconds=0.02)
    assert order[:2] == [(0, "base"), (1, "base")]
    assert set(order) == {(s, v) for s in (0, 1) for v in ("base", "a", "b")}
    # seed 0's variants ran in the slot seed 0's base left, while seed 1's base was still running
    assert started_at[(0, "a")] < started_at[(1, "base")] + 1.5
    assert started_at[(1, "a")] >= started_at[(1, "base")] + 2.0


def test_schedule_cancels_a_failed_seeds_variants_and_runs_the_rest() -> None:
    rep = _load()

    def start(seed: int, variant: str) -> tuple[str, subprocess.Popen]:
        return f"seed{seed}_{variant}.log", _fake_process(0.05, code=3 if (seed, variant) == (0, "base") else 0)

    with pytest.raises(RuntimeError, match=r"seed0_base.log \(exit 3\).*seed 0 a \(not run") as err:
        rep.schedule([0, 1], ["a"], 1, start, poll_seconds=0.02)
    assert "seed1" not in str(err.value)  # seed 1's base and variant ran and passed


@pytest.mark.slow
def test_smoke_run_of_table_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    rep = _load()
    # --parallel: the shared stages in one process, then one process per variant (logs under logs/)
    argv = ["--smoke", "--seeds", "0", "--tables", "1", "--output-dir", str(tmp_path), "--parallel"]
    assert rep.main(argv) == 0
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == [
        "seed0_C.log",
        "seed0_CF.log",
        "seed0_F.log",
        "seed0_base.log",
    ]
    text = (tmp_path / "tables.md").read_text()
    assert "Table 1" in text and "| +C+F |" in text
    results = json.loads((tmp_path / "results.json").read_text())["seeds"]["0"]
    assert set(results) == {"base", "_F", "_C", "_CF"}
    assert results["_CF"]["TR@1"] is not None and results["_F"]["noise ratio"] is None  # +F makes no captions
    report = json.loads((tmp_path / "seed0" / "capfilt_C" / "report.json").read_text())
    assert report["counts"]["web_removed"] == 0 and report["counts"]["synthetic_removed"] == 0  # +C filters nothing


@pytest.mark.slow
def test_from_scratch_sweep_runs_and_logs(tmp_path: Path) -> None:
    sweep = load_script("from_scratch_sweep")
    out = tmp_path / "log.json"
    args = ["--steps", "2", "--every", "2", "--batch-size", "8", "--negatives", "random", "--out", str(out)]
    assert sweep.main(args) == 0
    log = json.loads(out.read_text())["log"]
    assert [e["step"] for e in log] == [0, 2]
    for e in log:
        assert 0.0 <= e["r1"] <= 1.0 and 0.0 <= e["itm_auc"] <= 1.0 and 0.0 <= e["web_auc"] <= 1.0
        assert set(e["web_p"]) == {"clean", "generic", "swapped", "truncated", "wrong_attribute"}
    assert log[0]["p_pos"] != log[1]["p_pos"]  # the two updates changed the model

"""projects/blip/reproduction/reproduce.py: the stage plan, the tables, and a smoke run of Table 1."""

from __future__ import annotations

import json
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
    ] == ["pre", "pre_C", "pre_share_all"]
    for s in stages:
        assert (REPO / s["cfg"]).is_file(), s["cfg"]


def test_fast_preset_is_the_quickstart_design_with_shared_world_and_warm_start() -> None:
    rep = _load()
    stages = rep.plan([1, 2], "fast", tables=[1, 3], pretrain_steps=None, variants=["CF", "share_none"])
    names = [s["name"] for s in stages]
    assert names[:2] == ["world", "warm_start"] and len(names) == len(set(names))
    assert {"seed1_pre", "seed2_pre", "seed1_capfilt_CF", "seed2_ret_share_none"} <= set(names)
    by_name = {s["name"]: s for s in stages}
    for s in stages:
        assert (REPO / s["cfg"]).is_file(), s["cfg"]
        assert s["name"] in ("world", "warm_start") or s["cfg"].startswith("projects/blip/quickstart/"), s["name"]
    # references point at the same seed's stages, or at the shared world and warm start
    assert "model.pretrained=${stages.seed2_pre.last_checkpoint}" in by_name["seed2_cap"]["options"]
    assert "capfilt.captioner.checkpoint=${stages.seed1_cap.last_checkpoint}" in by_name["seed1_capfilt_CF"]["options"]
    assert "datasets.shapes_web.build_info.root=${stages.world.root}/web" in by_name["seed1_pre"]["options"]
    assert "model.pretrained=${stages.warm_start.checkpoint}" in by_name["seed1_pre_CF"]["options"]
    assert "model.pretrained=${stages.warm_start.checkpoint}" in by_name["seed2_pre_share_none"]["options"]
    held_out = "capfilt.data.heldout_annotations=${stages.world.root}/coco/annotations/coco_karpathy_val.json"
    assert held_out in by_name["seed1_capfilt_CF"]["options"]
    # the bootstrapped pre-training reads CapFilt's output (not the world) and has no per-epoch cap (runner_iter)
    boot = by_name["seed1_pre_CF"]["options"]
    assert any("stages.seed1_capfilt_CF.output_dir" in o for o in boot)
    assert not any("world" in o or "max_train_steps" in o for o in boot)
    # the full preset adds nothing to the YAMLs and has no shared stages
    assert rep.plan([0], "full", tables=[1], pretrain_steps=None, variants=[])[0]["options"] == ["run.seed=0"]
    assert rep.seed_results({"seed0_pre": {"a": 1}, "seed1_pre": {"a": 2}, "world": {}}, 1) == {"pre": {"a": 2}}


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


@pytest.mark.slow
def test_smoke_run_of_table_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    rep = _load()
    # the fast preset's stages: world, warm start, Table 1 (--jobs runs the same pipeline: tests/pipelines)
    argv = ["--smoke", "--preset", "fast", "--seeds", "0", "--tables", "1", "--output-dir", str(tmp_path)]
    assert rep.main(argv) == 0
    assert (tmp_path / "world" / "STAGE.json").is_file() and (tmp_path / "warm_start" / "STAGE.json").is_file()
    text = (tmp_path / "tables.md").read_text()
    assert "Table 1" in text and "| +C+F |" in text
    results = json.loads((tmp_path / "results.json").read_text())["seeds"]["0"]
    assert set(results) == {"base", "_F", "_C", "_CF"}
    assert results["_CF"]["TR@1"] is not None and results["_F"]["noise ratio"] is None  # +F makes no captions
    report = json.loads((tmp_path / "seed0_capfilt_C" / "report.json").read_text())
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

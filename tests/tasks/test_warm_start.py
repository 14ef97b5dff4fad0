"""The tiny encoders' warm start: its tasks, run by the runner (the stage's and the script's path), and its pieces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.projects import REPO
from vlkit.common.config import Config
from vlkit.common.registry import registry
from vlkit.pipelines.warm_start import RECIPES, WarmStartConfig, job_options
from vlkit.tasks.context import EvalContext


def test_sincos_grid_gives_every_patch_its_own_code() -> None:
    from vlkit.models.vit import sincos_position_grid

    grid = sincos_position_grid(128, 8)
    assert grid.shape == (64, 128)
    assert torch.cdist(grid, grid).add(torch.eye(64)).min() > 0.1  # no two cells share a code
    assert grid.std() > 0.5  # on the scale of the patch embeddings, unlike a std-0.02 random init
    with pytest.raises(ValueError, match="multiple of 4"):
        sincos_position_grid(130, 8)


def test_mask_tokens_follows_bert_and_never_touches_special_tokens() -> None:
    from vlkit.models.blip.warm_start_text import mask_tokens
    from vlkit.models.tokenizer import blip_tokenizer

    tok = blip_tokenizer()
    batch = tok(["a big green triangle below an orange triangle"] * 200 + ["red star"] * 200, padding="longest")
    ids, atts = torch.tensor(batch["input_ids"]), torch.tensor(batch["attention_mask"])
    masked, labels = mask_tokens(ids, atts, tok, torch.Generator().manual_seed(0))
    chosen = labels != -100
    special = (ids == tok.cls_token_id) | (ids == tok.sep_token_id) | (atts == 0)
    assert not chosen[special].any()
    assert torch.equal(masked[~chosen], ids[~chosen]) and torch.equal(labels[chosen], ids[chosen])
    real = (~special).sum().item()
    assert 0.10 < chosen.sum().item() / real < 0.20
    assert 0.7 < (masked[chosen] == tok.mask_token_id).float().mean().item() < 0.9


@pytest.mark.parametrize("objective", ["vision", "text"])
def test_section_becomes_a_valid_runner_job(objective: str, tmp_path: Path) -> None:
    ws = WarmStartConfig(scenes=300, held_out=60, vision_steps=25, text_steps=7, batch_size=16, lr=1e-3, seed=3)
    ws.image_size, ws.specific_captions = 48, True
    cfg = Config(RECIPES[objective], job_options(ws, objective, tmp_path))
    run = cfg.run_cfg
    steps = ws.vision_steps if objective == "vision" else ws.text_steps
    assert run.task == f"warm_start_{objective}" and run.runner == "runner_iter" and run.max_iters == steps
    assert run.lr_sched == "warmup_stable_decay_lr" and run.resume_ckpt_path is None
    assert (run.init_lr, run.batch_size_train, run.seed, run.output_dir) == (1e-3, 16, 3, str(tmp_path))
    ((name, data),) = cfg.datasets_cfg.items()
    assert (data.scenes, data.held_out, data.seed, data.specific_captions) == (300, 60, 3, True)
    assert cfg.model_cfg.image_size == 48 and registry.get_task_class(run.task)
    if objective == "vision":
        assert data.vis_processor.train.image_size == data.vis_processor.eval.image_size == 48


def test_vision_metrics_count_objects_not_batches() -> None:
    task = registry.get_task_class("warm_start_vision")()
    results = [
        {"name": "colour", "correct": 3, "scored": 4},
        {"name": "cell", "correct": 1, "scored": 2},
        {"name": "colour", "correct": 0, "scored": 1},  # a batch of one object, wrong
        {"name": "cell", "correct": 2, "scored": 2},
    ]
    metrics = task.after_evaluation(results, EvalContext("val"))
    assert metrics["colour"] == pytest.approx(3 / 5) and metrics["cell"] == pytest.approx(3 / 4)
    assert metrics["agg_metrics"] == pytest.approx((3 / 5 + 3 / 4) / 2)


def test_text_metrics_pool_the_held_out_scenes() -> None:
    task = registry.get_task_class("warm_start_text")()  # model.paraphrase_temp's default, 0.1
    eye = torch.eye(4)
    same = torch.nn.functional.normalize(torch.ones(2, 4), dim=-1)
    batch = {"mlm_loss_sum": 6.0, "mlm_correct": 1, "mlm_scored": 3}
    results = [
        {**batch, "cls_a": eye[:2], "cls_b": eye[:2], "cls_first": eye[:2]},
        {**batch, "mlm_correct": 2, "cls_a": eye[2:], "cls_b": eye[2:], "cls_first": same},
    ]
    metrics = task.after_evaluation(results, EvalContext("val"))
    assert metrics["mlm_loss"] == pytest.approx(2.0) and metrics["mlm_acc"] == pytest.approx(0.5)
    # four pairs told apart over all four scenes (not per batch of two): well below chance ln(4)
    assert metrics["paraphrase_loss"] < 0.01
    assert 0.0 < metrics["cls_cosine"] < 1.0


@pytest.mark.slow
def test_warm_start_learns_and_loads_into_tiny_models(warm_start_checkpoint: Path) -> None:
    """The session's warm start (tests/conftest.py: the script entry point, 1,500 scenes at 32 px) learned both
    halves as runner jobs of their tasks and loads into every tiny model."""
    out = warm_start_checkpoint
    report = json.loads(out.with_suffix(".json").read_text())
    text, vision = report["text"], report["vision"]
    for objective in ("vision", "text"):  # both halves ran as runner jobs of their tasks, for the steps asked
        job = Config(out.parent / f"{out.stem}_jobs" / objective / "config.yaml")
        assert job.run_cfg.task == f"warm_start_{objective}"
        assert job.run_cfg.max_iters == report["config"][f"{objective}_steps"]
    assert text["after"]["mlm_loss"] < text["before"]["mlm_loss"] - 5.0  # from ~ln(30524) = 10.3
    assert text["after"]["mlm_acc"] > 0.1
    assert text["after"]["paraphrase_loss"] < text["before"]["paraphrase_loss"] - 0.3  # ln(100) at chance
    assert text["after"]["cls_cosine"] < text["before"]["cls_cosine"]  # captions no longer share one [CLS]
    # the ViT leaves its plateau after ~150 updates of batch 64 (measured: colour 0.17 -> 0.73-0.90 by update 300)
    assert vision["after"]["colour"] > vision["before"]["colour"] + 0.3 and vision["after"]["cell"] > 0.5

    from vlkit.models import load_model

    retrieval = load_model("blip_retrieval", "tiny", pretrained=False)
    loaded = retrieval.load_checkpoint(str(out), strict=False)
    assert not [k for k in loaded.missing_keys if k.startswith("visual_encoder.")]
    assert {k.split(".crossattention.")[0] for k in loaded.missing_keys if k.startswith("text_encoder.")} == {
        f"text_encoder.encoder.layer.{i}" for i in range(4)
    }  # only the cross-attention starts random, as in BLIP
    assert torch.equal(retrieval.visual_encoder_m.pos_embed, retrieval.visual_encoder.pos_embed)  # momentum copied
    # what the reproduction's pre-training stages do: the project config names the file
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(REPO / "vlkit/configs/models/blip_pretrain/tiny.yaml").model
    cfg.merge_with({"pretrained": str(out), "load_pretrained": True})
    built = registry.get_model_class("blip_pretrain").from_config(cfg)
    assert torch.equal(built.visual_encoder.pos_embed, retrieval.visual_encoder.pos_embed)
    from safetensors.torch import load_file

    saved = load_file(str(out))["text_encoder.encoder.layer.0.attention.self.query.weight"]
    assert torch.equal(built.text_encoder.encoder.layer[0].attention.self.query.weight, saved)
    pretrain = load_model("blip_pretrain", "tiny", pretrained=False)
    report = pretrain.load_checkpoint(str(out), strict=False)
    assert not report.unexpected_keys
    # only the released checkpoints' stale, unused 30522-entry bias buffer is left at its zeros
    assert [k for k in report.missing_keys if k.startswith("text_decoder.cls.")] == [
        "text_decoder.cls.predictions.bias"
    ]


def _run_half(objective: str, out: Path, name: str, ws: WarmStartConfig, *extra: str) -> dict:
    from vlkit.runners.job import run_job

    opts = [*job_options(ws, objective, out), f"run.job_name={name}", "run.progress=off", *extra]
    return run_job(Config(RECIPES[objective], opts))


def test_vision_job_learns_the_scenes_through_the_runner(tmp_path: Path) -> None:
    """The registered-task path learns as the hand-written loop did: colour far above chance in 300 tiny updates.

    At 24 px the tiny ViT's 3x3 patches are the scene's cells, so it leaves the plateau early: measured colour
    0.72 / 0.79 / 0.86 and cell 0.62 / 0.49 / 0.83 for seeds 2 / 1 / 0 (chance 1/6 and 1/9), ~12 s of CPU.
    """
    ws = WarmStartConfig(scenes=500, held_out=100, vision_steps=300, batch_size=32, image_size=24, max_objects=1)
    ws.seed, ws.device = 2, "cpu"
    before = _run_half("vision", tmp_path, "before", ws, "run.evaluate=true")["metrics"]["val"]
    after = _run_half("vision", tmp_path, "vision", ws, "run.iters_per_inner_epoch=300")["metrics"]["val"]
    assert before["colour"] < 0.3 and after["colour"] > 0.5 and after["cell"] > 0.3


def test_text_job_resumes_bit_identically(tmp_path: Path) -> None:
    """Killed after its first checkpoint and run again, the text job ends with the uninterrupted run's weights
    (data position, dropout and masking RNG, optimiser and schedule all come back)."""
    from vlkit.runners.checkpointing import load_checkpoint_file

    ws = WarmStartConfig(scenes=120, held_out=20, text_steps=6, batch_size=8, device="cpu")
    opts = ("run.iters_per_inner_epoch=3", "run.keep_last_n=2", "run.test_splits=[]")
    whole = _run_half("text", tmp_path, "whole", ws, *opts)
    ckpts = tmp_path / "resumed" / "checkpoints"
    ckpts.mkdir(parents=True)
    halfway = tmp_path / "whole" / "checkpoints" / "checkpoint_step000000003.pth"
    (ckpts / halfway.name).write_bytes(halfway.read_bytes())  # what an interrupted run leaves behind
    resumed = _run_half("text", tmp_path, "resumed", ws, *opts, "run.resume_ckpt_path=auto")
    a = load_checkpoint_file(whole["last_checkpoint"])["model"]
    b = load_checkpoint_file(resumed["last_checkpoint"])["model"]
    assert resumed["global_step"] == 6 and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    start = load_checkpoint_file(halfway)["model"]
    assert not torch.equal(start["cls.predictions.transform.dense.weight"], a["cls.predictions.transform.dense.weight"])

"""vlkit.tasks.warm_start (and its script, projects/blip/reproduction/warm_start.py): the tiny encoders' warm start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.projects import REPO, load_script


def _load():
    from vlkit.tasks import warm_start

    return warm_start


def test_sincos_grid_gives_every_patch_its_own_code() -> None:
    ws = _load()
    grid = ws.sincos_position_grid(128, 8)
    assert grid.shape == (64, 128)
    assert torch.cdist(grid, grid).add(torch.eye(64)).min() > 0.1  # no two cells share a code
    assert grid.std() > 0.5  # on the scale of the patch embeddings, unlike a std-0.02 random init
    with pytest.raises(ValueError, match="multiple of 4"):
        ws.sincos_position_grid(130, 8)


def test_mask_tokens_follows_bert_and_never_touches_special_tokens() -> None:
    ws = _load()
    from vlkit.models.tokenizer import blip_tokenizer

    tok = blip_tokenizer()
    batch = tok(["a big green triangle below an orange triangle"] * 200 + ["red star"] * 200, padding="longest")
    ids, atts = torch.tensor(batch["input_ids"]), torch.tensor(batch["attention_mask"])
    masked, labels = ws.mask_tokens(ids, atts, tok, torch.Generator().manual_seed(0))
    chosen = labels != -100
    special = (ids == tok.cls_token_id) | (ids == tok.sep_token_id) | (atts == 0)
    assert not chosen[special].any()
    assert torch.equal(masked[~chosen], ids[~chosen]) and torch.equal(labels[chosen], ids[chosen])
    real = (~special).sum().item()
    assert 0.10 < chosen.sum().item() / real < 0.20
    assert 0.7 < (masked[chosen] == tok.mask_token_id).float().mean().item() < 0.9


@pytest.mark.slow
def test_warm_start_learns_and_loads_into_tiny_models(tmp_path: Path) -> None:
    script = load_script("warm_start")  # the thin entry point over vlkit.tasks.warm_start
    out = tmp_path / "warm.safetensors"
    args = ["--out", str(out), "--scenes", "1000", "--held-out", "200", "--vision-steps", "300", "--text-steps", "100"]
    args += ["--batch-size", "64", "--image-size", "48", "--max-objects", "1"]
    assert script.main(args) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    text, vision = report["text"], report["vision"]
    assert text["after"]["mlm_loss"] < text["before"]["mlm_loss"] - 5.0  # from ~ln(30524) = 10.3
    assert text["after"]["mlm_acc"] > 0.1
    assert text["after"]["paraphrase_loss"] < text["before"]["paraphrase_loss"] - 0.3  # ln(200) at chance
    assert text["after"]["cls_cosine"] < text["before"]["cls_cosine"]  # captions no longer share one [CLS]
    # the ViT leaves its plateau after ~150 updates of batch 64 (measured: colour 0.26 -> 0.92 by update 300)
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

    from vlkit.common.registry import registry

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

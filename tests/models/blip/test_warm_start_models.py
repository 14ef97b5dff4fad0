"""The warm start's two models: MED's LM head tied to the encoder, and the export into a tiny BLIP's keys."""

from __future__ import annotations

import torch

from vlkit.models import load_model
from vlkit.models.blip.warm_start import warm_state_dict

CAPTIONS = [[f"a {c} circle in the middle {k}" for k in range(5)] + [f"{c} circle"] for c in ("red", "blue", "green")]


def test_text_model_reuses_med_lm_head_tied_to_the_word_embeddings() -> None:
    model = load_model("blip_warm_start_text", "tiny")
    head = model.cls.predictions
    assert type(head).__name__ == "LMPredictionHead"
    assert head.decoder.weight is model.text_encoder.embeddings.word_embeddings.weight
    assert not any(".crossattention." in k for k in model.state_dict())  # BLIP starts cross-attention random
    out = model({"captions": CAPTIONS}, generator=torch.Generator().manual_seed(0))
    assert int(out.mlm_scored) > 0 and out.cls_a.shape == out.cls_b.shape == (3, 128)
    out.loss.backward()
    assert model.text_encoder.embeddings.word_embeddings.weight.grad.abs().sum() > 0  # through input and output
    assert head.transform.dense.weight.grad.abs().sum() > 0 and head.decoder.bias.grad.abs().sum() > 0
    again = model({"captions": CAPTIONS}, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.mlm_scored, out.mlm_scored)  # the generator fixes the picks and the masks


def test_vision_model_starts_from_a_sincos_grid_and_scores_occupied_cells() -> None:
    from vlkit.data.synthetic.warm_start_scenes import draw_scene
    from vlkit.models.vit import sincos_position_grid

    model = load_model("blip_warm_start_vision", "tiny", image_size=48)
    assert torch.equal(model.visual_encoder.pos_embed[0, 1:], sincos_position_grid(128, 6))
    labels = torch.tensor([draw_scene(i, 0, 2, False).labels for i in range(4)])
    hits = model.scene_hits({"image": torch.randn(4, 3, 48, 48), "scene_labels": labels})
    objects = int(labels[:, :9].sum())
    assert hits["cell"][1] == hits["background"][1] == 4
    assert hits["colour"][1] == hits["shape"][1] == hits["size"][1] == objects


def test_warm_state_dict_loads_into_tiny_blip_like_bert_and_imagenet_weights() -> None:
    vision = load_model("blip_warm_start_vision", "tiny", image_size=48)
    text = load_model("blip_warm_start_text", "tiny")
    weights = warm_state_dict(vision.state_dict(), text.state_dict())
    pretrain = load_model("blip_pretrain", "tiny", pretrained=False, image_size=48)
    report = pretrain.load_checkpoint(weights, strict=False)
    assert not report.unexpected_keys and not report.skipped_shape_mismatch
    missing = {k.split(".crossattention.")[0] for k in report.missing_keys if k.startswith("text_encoder.")}
    assert missing == {f"text_encoder.encoder.layer.{i}" for i in range(4)}  # cross-attention starts random
    # only the released checkpoints' stale, unused 30522-entry bias buffer is left at its zeros
    stale = ["text_decoder.cls.predictions.bias"]
    assert [k for k in report.missing_keys if k.startswith("text_decoder.cls.")] == stale
    assert not [k for k in report.missing_keys if k.startswith("visual_encoder.")]
    query = "encoder.layer.0.attention.self.query.weight"
    assert torch.equal(pretrain.text_decoder.bert.get_parameter(query), text.text_encoder.get_parameter(query))
    assert torch.equal(pretrain.text_decoder.cls.predictions.decoder.bias, text.cls.predictions.decoder.bias)
    assert torch.equal(pretrain.visual_encoder.pos_embed, vision.visual_encoder.pos_embed)


def test_model_read_out_shapes_match_the_scene_labels() -> None:
    from vlkit.data.synthetic.warm_start_scenes import ATTRIBUTE_CLASSES, BACKGROUND_CLASSES, CELLS
    from vlkit.models.blip.config import BlipWarmStartConfig

    cfg = BlipWarmStartConfig()
    assert (cfg.scene_cells, cfg.scene_attributes, cfg.scene_backgrounds) == (
        CELLS,
        ATTRIBUTE_CLASSES,
        BACKGROUND_CLASSES,
    )

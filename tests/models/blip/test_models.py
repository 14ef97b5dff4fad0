"""The BLIP models' inference methods in their modes (training and save/load: test_registered_models.py)."""

from __future__ import annotations

import pytest
import torch

from vlkit.models import load_model

B = 2
TEXTS = ["a red circle left of a blue square", "two green triangles"]


def _samples(name: str, video: bool = False) -> dict:
    torch.manual_seed(0)
    image = torch.randn(B, 4, 3, 64, 64) if video else torch.randn(B, 3, 64, 64)
    s = {
        "image": image,
        "text_input": TEXTS,
        "image_id": torch.tensor([0, 1]),
    }
    if name == "blip_vqa":
        s.update(
            text_input=["what colour is the circle", "how many triangles"],
            answer=["red", "blue", "two"],
            weight=torch.tensor([0.7, 0.3, 1.0]),
            n_answers=torch.tensor([2, 1]),
        )
    if name == "blip_nlvr":
        s.update(image0=image, image1=torch.randn_like(image), label=torch.tensor([1, 0]))
    if name == "blip_dialog":
        s.update(
            caption=TEXTS,
            dialog_history=["", "q: is it red? a: yes"],
            question=["what shape", "how many"],
            answer_options=[[f"option {i}" for i in range(5)]] * B,
            gt_index=torch.tensor([1, 3]),
        )
    return s


def test_caption_generate_modes() -> None:
    model = load_model("blip_caption", "tiny", is_eval=True)
    s = _samples("blip_caption")
    beam = model.generate(s, num_beams=3, max_length=12, min_length=6)
    assert len(beam) == B and all(isinstance(c, str) for c in beam)
    greedy = model.generate(s, num_beams=1, max_length=12, min_length=6)
    assert len(greedy) == B
    g = torch.Generator().manual_seed(0)
    sampled = model.generate(s, use_nucleus_sampling=True, num_captions=3, max_length=12, min_length=6, generator=g)
    g = torch.Generator().manual_seed(0)
    again = model.generate(s, use_nucleus_sampling=True, num_captions=3, max_length=12, min_length=6, generator=g)
    assert len(sampled) == 3 * B and sampled == again


def test_itm_and_feature_extractor_inference() -> None:
    itm = load_model("blip_image_text_matching", "tiny", is_eval=True)
    s = _samples("blip_image_text_matching")
    assert itm(s, match_head="itm").shape == (B, 2)
    assert itm(s, match_head="itc").shape == (B, B)  # every image against every text (tests/models/blip/test_itc.py)
    fx = load_model("blip_feature_extractor", "tiny", is_eval=True)
    for mode in ("image", "text", "multimodal"):
        feats = fx.extract_features(s, mode=mode)
        if mode == "image":
            assert feats.image_embeds_proj.shape[-1] == 64
            assert torch.allclose(feats.image_embeds_proj.norm(dim=-1), torch.ones(1), atol=1e-5)
        if mode == "text":
            assert feats.text_embeds_proj.shape[:2] == feats.text_embeds.shape[:2]
        if mode == "multimodal":
            assert feats.multimodal_embeds.shape[0] == B
    with pytest.raises(ValueError, match="match_head"):
        itm(s, match_head="xyz")


def test_vqa_generate_and_rank() -> None:
    model = load_model("blip_vqa", "tiny", is_eval=True)
    s = _samples("blip_vqa")
    assert len(model.predict_answers(s, inference_method="generate", max_len=6)) == B
    answers = ["red", "blue", "two", "three", "yes"]
    ranked = model.predict_answers(s, inference_method="rank", answer_list=answers, num_ans_candidates=3)
    assert all(a in answers for a in ranked)
    with pytest.raises(ValueError, match="answer_list"):
        model.predict_answers(s, inference_method="rank")


def test_nlvr_predict_and_dialog_scores() -> None:
    nlvr = load_model("blip_nlvr", "tiny", is_eval=True)
    pred = nlvr.predict(_samples("blip_nlvr"))
    assert pred["predictions"].shape == (B,) and pred["targets"].tolist() == [1, 0]
    dialog = load_model("blip_dialog", "tiny", is_eval=True)
    assert dialog.score_options(_samples("blip_dialog"), chunk=2).shape == (B, 5)


def test_video_types_accept_frames() -> None:
    ret = load_model("blip_retrieval", "tiny", is_eval=True)
    embeds, proj = ret.image_features(torch.randn(B, 4, 3, 64, 64))
    assert embeds.shape[1] == 4 * (1 + 64) and proj.shape == (B, 64)
    vqa = load_model("blip_vqa", "tiny", is_eval=True)
    assert len(vqa.predict_answers(_samples("blip_vqa", video=True), max_len=5)) == B


def test_alpha_is_an_argument_and_defaults_to_the_config() -> None:
    """The ITC weight comes in as ``alpha=`` (None: ``config.alpha``); position keys in a batch change nothing."""
    losses = {}
    for label, kwargs, extra in (
        ("default", {}, {}),
        ("config", {"alpha": 0.4}, {}),
        ("zero", {"alpha": 0.0}, {}),
        ("positioned", {}, {"epoch": 0, "iters": 0, "num_iters_per_epoch": 10}),
    ):
        torch.manual_seed(0)
        model = load_model("blip_retrieval", "tiny")
        torch.manual_seed(1)
        losses[label] = float(model({**_samples("blip_retrieval"), **extra}, **kwargs).loss_itc)
    assert losses["default"] == losses["config"] == losses["positioned"]
    assert losses["zero"] != losses["default"]

"""``match_head="itc"`` returns the image x text similarity matrix, as LAVIS and the original code do."""

from __future__ import annotations

import torch

from vlkit.models import load_model

TEXTS = ["a red circle", "two green triangles", "a blue square above a circle"]


def test_itc_is_every_image_against_every_text() -> None:
    itm = load_model("blip_image_text_matching", "tiny", is_eval=True)
    torch.manual_seed(0)
    images = torch.randn(2, 3, 64, 64)  # fewer images than texts: only a matrix can hold that
    sims = itm({"image": images, "text_input": TEXTS}, match_head="itc")
    assert sims.shape == (2, 3)
    image_proj = itm.extract_features({"image": images}, mode="image").image_embeds_proj[:, 0]
    text_proj = itm.extract_features({"text_input": TEXTS}, mode="text").text_embeds_proj[:, 0]
    torch.testing.assert_close(sims, image_proj @ text_proj.t())
    # each row, one image alone, is the same row as in the batch
    torch.testing.assert_close(itm.match({"image": images[1:], "text_input": TEXTS}, "itc")[0], sims[1])


def test_feature_extractor_forward_is_the_itc_matrix() -> None:
    fx = load_model("blip_feature_extractor", "tiny", is_eval=True)
    torch.manual_seed(1)
    samples = {"image": torch.randn(3, 3, 64, 64), "text_input": TEXTS[:2]}
    sims = fx(samples)
    assert sims.shape == (3, 2)
    torch.testing.assert_close(sims, fx.match(samples, match_head="itc"))
    assert bool((sims.abs() <= 1.0 + 1e-5).all())  # cosines of normalised projections

"""The demo's tasks without gradio: model lists from the registry, loading through the cache, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from vlkit.cli import run
from vlkit.demo import inference
from vlkit.demo.inference import DemoInputError, ModelCache, ModelKey


def test_tabs_list_the_registered_models_that_can_do_the_task() -> None:
    assert inference.models_for("caption") == ["blip_caption"]
    assert inference.models_for("vqa") == ["blip_vqa"]
    assert {"blip_image_text_matching", "blip_retrieval"} <= set(inference.models_for("itm"))
    assert "blip_feature_extractor" in inference.models_for("classify")
    assert "tiny" in inference.types_for("blip_caption") and "base_coco" in inference.types_for("blip_caption")


def test_cache_loads_a_local_checkpoint_once_and_evicts_the_oldest(caption_checkpoint: Path) -> None:
    cache = ModelCache(capacity=1)
    key = ModelKey("blip_caption", "tiny", str(caption_checkpoint))
    first = cache.get(key)
    assert cache.get(key) is first
    assert not first[0].training
    cache.get(ModelKey("blip_feature_extractor", "tiny"))
    assert cache.get(key) is not first  # evicted, loaded again


def test_caption_beam_and_nucleus(caption_checkpoint: Path, test_image: Path) -> None:
    entry = ModelCache().get(ModelKey("blip_caption", "tiny", str(caption_checkpoint)))
    image = Image.open(test_image)
    beam = inference.caption(entry, image, "beam", num_beams=3, max_length=12, min_length=8)  # lengths count the prompt
    assert isinstance(beam, str) and len(beam.split()) >= 4
    samples = [inference.caption(entry, image, "nucleus", max_length=12, min_length=8, seed=s) for s in (1, 1, 2)]
    assert samples[0] == samples[1]  # seeded
    with pytest.raises(DemoInputError, match="Upload an image"):
        inference.caption(entry, None)


def test_vqa_itm_and_classification(test_image: Path) -> None:
    cache = ModelCache(capacity=3)
    image = Image.open(test_image)
    vqa = cache.get(ModelKey("blip_vqa", "tiny"))
    assert isinstance(inference.answer(vqa, image, "what colour is the circle?"), str)
    assert inference.answer(vqa, image, "what colour?", candidates="red, blue") in ("red", "blue")
    scores = inference.match(cache.get(ModelKey("blip_image_text_matching", "tiny")), image, "a red circle")
    assert 0.0 <= scores["itm"] <= 1.0 and -1.0 <= scores["itc"] <= 1.0
    fx = cache.get(ModelKey("blip_feature_extractor", "tiny"))
    probs = inference.classify(fx, image, "circle, square, dog")
    assert set(probs) == {"circle", "square", "dog"} and abs(sum(probs.values()) - 1.0) < 1e-5
    assert list(probs.values()) == sorted(probs.values(), reverse=True)
    with pytest.raises(DemoInputError, match="at least two"):
        inference.classify(fx, image, "circle")
    with pytest.raises(DemoInputError, match="no ITM head"):
        inference.match(fx, image, "a red circle")


def test_zero_shot_scores_follow_itc_similarity() -> None:
    torch.manual_seed(0)
    entry = ModelCache().get(ModelKey("blip_feature_extractor", "tiny"))
    model = entry[0]
    images = torch.randn(3, 3, 64, 64)
    classes = ["red", "green", "blue", "yellow"]
    probs = inference.zero_shot_scores(model, images, classes, "a {} thing")
    sims = model.match({"image": images, "text_input": [f"a {c} thing" for c in classes]}, match_head="itc")
    assert torch.equal(probs.argmax(1), sims.argmax(1))
    assert torch.allclose(probs.sum(1), torch.ones(3))


def test_demo_without_gradio_names_the_extra(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio now raises ImportError
    assert run(["demo", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "needs gradio" in err and "pip install 'vlkit[demo]'" in err

"""Export to transformers' BLIP layout: transformers loads it with no missing keys and gives the same outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.fixtures import loading_equivalence as eq
from vlkit.models import load_model
from vlkit.models.export import export_to_transformers

transformers = pytest.importorskip("transformers")

# (vlkit model, transformers class, equivalence check)
CASES = [
    ("blip_caption", "BlipForConditionalGeneration", lambda m, hf: eq.assert_caption_equivalent(m, hf, beams=(3,))),
    ("blip_image_text_matching", "BlipForImageTextRetrieval", eq.assert_matching_equivalent),
    ("blip_vqa", "BlipForQuestionAnswering", lambda m, hf: eq.assert_vqa_equivalent(m, hf, beams=(1,))),
]


def _tiny(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = load_model(name, "tiny", pretrained=False, is_eval=True)
    decoder = getattr(model, "text_decoder", None)
    if decoder is not None:
        with torch.no_grad():  # make [SEP] likely so that generation stops at different steps
            decoder.cls.predictions.bias[102] += 4.0
    return model


def _hf(path: Path, hf_class: str) -> object:
    hf, info = getattr(transformers, hf_class).from_pretrained(path, output_loading_info=True)
    assert {k: v for k, v in info.items() if v} == {}, "transformers should find exactly its keys"
    return hf.eval()


@pytest.mark.parametrize("name,hf_class,check", CASES, ids=[c[0] for c in CASES])
def test_export_loads_in_transformers_with_the_same_outputs(tmp_path: Path, name: str, hf_class: str, check) -> None:
    model = _tiny(name)
    out = export_to_transformers(model, tmp_path / "hf")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    assert json.loads((out / "config.json").read_text())["architectures"] == [hf_class]
    check(model, _hf(out, hf_class))
    # and back: vlkit reads its own export strictly, with identical weights
    again = load_model(name, "tiny", checkpoint=out)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())


def test_retrieval_model_exports_its_matching_part(tmp_path: Path) -> None:
    model = load_model("blip_retrieval", "tiny", pretrained=False)
    hf = _hf(export_to_transformers(model, tmp_path / "hf"), "BlipForImageTextRetrieval")
    assert torch.equal(hf.itm_head.weight, model.itm_head.weight)


@pytest.mark.parametrize("name", ["blip_pretrain", "blip_nlvr"])
def test_models_without_a_transformers_class_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="no transformers BLIP counterpart"):
        export_to_transformers(load_model(name, "tiny", pretrained=False), tmp_path / "hf")

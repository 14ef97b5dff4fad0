"""``save_pretrained`` / ``push_to_hub``: transformers' BLIP classes load what vlkit writes and give the same
outputs, vlkit reloads it with its config, the card says what it knows; pushing goes through a local HTTP
server speaking the Hub API (huggingface_hub's real client code up to the socket)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.fixtures import loading_equivalence as eq
from tests.fixtures.fake_hub import FakeHub, populate_hub_cache
from vlkit.models import load_model
from vlkit.runners.logging import RunLogger

transformers = pytest.importorskip("transformers")


def _tiny(name: str, **overrides: object) -> torch.nn.Module:
    torch.manual_seed(0)
    model = load_model(name, "tiny", pretrained=False, is_eval=True, **overrides)
    if hasattr(model, "text_decoder"):
        with torch.no_grad():  # make [SEP] likely so that generation stops at different steps
            model.text_decoder.cls.predictions.bias[102] += 4.0
    return model


def _job_dir(tmp_path: Path) -> Path:
    """A vlkit job directory as the runner leaves it: config.yaml and log.jsonl with two evaluations."""
    job = tmp_path / "job"
    job.mkdir()
    (job / "config.yaml").write_text(
        "model: {arch: blip_caption, load_pretrained: true, pretrained: output/pre/checkpoint.pth}\n"
        "datasets: {shapes_coco_caption: {}}\n"
        "run: {task: captioning, max_epoch: 5, init_lr: 1.0e-05, batch_size_train: 32, seed: 0, amp: bf16}\n"
    )
    log = RunLogger(job, enabled=True)
    log.log("eval", step=10, epoch=0, split="val", CIDEr=0.5, Bleu_4=0.1)
    log.log("eval", step=80, epoch=4, split="test", CIDEr=1.25, Bleu_4=0.33)
    return job


def test_caption_model_saves_the_transformers_layout_with_card_and_config(tmp_path: Path) -> None:
    model = _tiny("blip_caption", prompt="a photo of ")
    out = model.save_pretrained(tmp_path / "hf", job_dir=_job_dir(tmp_path))
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors", "vlkit.yaml"]
    hf, info = transformers.BlipForConditionalGeneration.from_pretrained(out, output_loading_info=True)
    assert {k: v for k, v in info.items() if v} == {}
    eq.assert_caption_equivalent(model, hf.eval(), beams=(3,))
    again = load_model("blip_caption", "tiny", checkpoint=out)
    assert again.config.prompt == "a photo of "  # restored from vlkit.yaml
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())

    card = (out / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: vlkit\n") and "pipeline_tag: image-to-text" in card
    assert "BlipForConditionalGeneration" in card and 'load_model("blip_caption", "tiny"' in card
    assert "- started from: `output/pre/checkpoint.pth`" in card and "`shapes_coco_caption`" in card
    assert "- `run.max_epoch`: 5" in card and "- `run.amp`: bf16" in card
    assert "Last evaluation on the `test` split (step 80)" in card  # the last one, not the first
    assert "| CIDEr | 1.25 |" in card and "| Bleu_4 | 0.33 |" in card and "0.5 |" not in card
    assert "@inproceedings{li2022blip" in card and "Bootstrapping Language-Image Pre-training" in card


def test_matching_and_vqa_models_load_in_transformers_with_the_same_outputs(tmp_path: Path) -> None:
    itm = _tiny("blip_image_text_matching")
    hf = transformers.BlipForImageTextRetrieval.from_pretrained(itm.save_pretrained(tmp_path / "itm"))
    eq.assert_matching_equivalent(itm, hf.eval())
    card = (tmp_path / "itm" / "README.md").read_text()
    assert "[ENC] (id 30523)" in card and "No evaluation recorded" in card
    vqa = _tiny("blip_vqa")
    hf = transformers.BlipForQuestionAnswering.from_pretrained(
        vqa.save_pretrained(tmp_path / "vqa", metrics={"acc": 0.7})
    )
    eq.assert_vqa_equivalent(vqa, hf.eval(), beams=(1,))
    assert "| acc | 0.7 |" in (tmp_path / "vqa" / "README.md").read_text()


def test_card_without_a_job_names_the_released_weights(tmp_path: Path) -> None:
    model = _tiny("blip_caption", load_finetuned=True, finetuned="https://example.com/blip_caption.pth")
    card = (model.save_pretrained(tmp_path / "hf") / "README.md").read_text()
    assert "loaded from `https://example.com/blip_caption.pth`" in card


def test_save_pretrained_refuses_what_transformers_cannot_load_and_bad_job_dirs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no transformers BLIP counterpart"):
        _tiny("blip_nlvr").save_pretrained(tmp_path / "nlvr")
    with pytest.raises(FileNotFoundError, match="not a vlkit job directory"):
        _tiny("blip_caption").save_pretrained(tmp_path / "cap", job_dir=tmp_path)
    assert not (tmp_path / "nlvr").exists() and not (tmp_path / "cap").exists()


def test_push_to_hub_uploads_one_commit_that_loads_back_by_hub_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _tiny("blip_caption")
    with FakeHub(tmp_path / "hub") as hub:
        info = model.push_to_hub("me/tiny-captioner", metrics={"CIDEr": 1.1}, token="hf_test", endpoint=hub.url)
    assert info.oid and info.commit_url.startswith(hub.url)
    commits = [p for m, p in hub.requests if m == "POST" and "/commit/" in p]
    assert commits == ["/api/models/me/tiny-captioner/commit/main"]
    pushed = tmp_path / "hub" / "me" / "tiny-captioner"
    assert sorted(p.name for p in pushed.iterdir()) == ["README.md", "config.json", "model.safetensors", "vlkit.yaml"]
    card = (pushed / "README.md").read_text()
    assert "# tiny-captioner" in card and 'checkpoint="me/tiny-captioner"' in card and "| CIDEr | 1.1 |" in card
    assert json.loads((pushed / "config.json").read_text())["architectures"] == ["BlipForConditionalGeneration"]
    # what a user who downloaded it gets: a cache entry loaded by id, offline
    cache = tmp_path / "hf_cache"
    populate_hub_cache(cache, "me/tiny-captioner", {p.name: p for p in pushed.iterdir()})
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = load_model("blip_caption", "tiny", checkpoint="me/tiny-captioner")
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in model.state_dict().items())


def test_push_refused_by_the_hub_names_the_repository(tmp_path: Path) -> None:
    with FakeHub(tmp_path / "hub") as hub:
        hub.forbidden.add("someone-else")
        with pytest.raises(RuntimeError, match=r"'someone-else/model'.*HTTP 403.*hf auth login"):
            _tiny("blip_caption").push_to_hub("someone-else/model", token="hf_test", endpoint=hub.url)

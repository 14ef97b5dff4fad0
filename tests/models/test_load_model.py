"""load_model / load_model_and_preprocess / model_zoo on the BLIP models: every checkpoint source and format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.fixtures import loading_equivalence as eq
from vlkit.common.registry import registry
from vlkit.models import CheckpointError, load_model, load_model_and_preprocess, model_zoo

transformers = pytest.importorskip("transformers")


def _sd_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_model_zoo_lists_every_model_and_type() -> None:
    text = str(model_zoo)
    for name in registry.list_models():
        assert name in text and name in model_zoo
        types = registry.get_model_class(name).PRETRAINED_MODEL_CONFIG_DICT
        assert all(t in text for t in types)
    assert ("blip_caption", sorted(registry.get_model_class("blip_caption").PRETRAINED_MODEL_CONFIG_DICT)) in list(
        model_zoo
    )
    assert len(model_zoo) == len(registry.list_models())


def test_pretrained_false_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pretrained=False must not read or download weights")

    monkeypatch.setattr("vlkit.models.checkpoint.download", refuse)
    monkeypatch.setattr("vlkit.models.checkpoint.read_state_dict", refuse)
    monkeypatch.setattr("vlkit.models.base_model.read_state_dict", refuse)
    model = load_model("blip_caption", "base_coco", pretrained=False, is_eval=True, device="meta")
    assert not model.training and model.device.type == "meta"


def test_a_model_without_weights_says_so(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level("WARNING", logger="vlkit.models.base_model"):
        model = load_model("blip_caption", "tiny", pretrained=False)
    assert model.load_report.random_init and "pretrained=False" in model.load_report.summary()
    assert any("blip_caption/tiny has random weights (pretrained=False)" in r.message for r in caplog.records)
    caplog.clear()
    with caplog.at_level("WARNING", logger="vlkit.models.base_model"):
        model = load_model("blip_caption", "tiny")  # pretrained=True, but the tiny YAML names no weights
    assert model.load_report.random_init and "names no weights" in model.load_report.summary()
    assert any("has random weights" in r.message for r in caplog.records)
    # weights given as checkpoint=: no random-weights warning, and the report is the loading's
    path = model.save_checkpoint(tmp_path / "cap.safetensors")
    caplog.clear()
    with caplog.at_level("WARNING", logger="vlkit.models.base_model"):
        again = load_model("blip_caption", "tiny", checkpoint=path)
    assert not again.load_report.random_init and again.load_report.source == str(path)
    assert not any("random weights" in r.message for r in caplog.records)


def test_load_model_and_preprocess_gives_train_and_eval_processors() -> None:
    from PIL import Image

    model, vis, txt = load_model_and_preprocess("blip_caption", "tiny", is_eval=True, pretrained=False)
    assert set(vis) == set(txt) == {"train", "eval"}
    image = vis["eval"](Image.new("RGB", (80, 50), "red"))
    assert image.shape == (3, 64, 64)
    assert txt["train"]("A Red  circle!").startswith("a picture of ")
    assert isinstance(model.generate({"image": image[None]}, num_beams=1, max_length=8, min_length=2)[0], str)


def test_save_checkpoint_round_trips_through_load_model(tmp_path: Path) -> None:
    model = load_model("blip_caption", "tiny", pretrained=False, image_size=32)
    path = model.save_checkpoint(tmp_path / "cap.safetensors")
    # the config saved beside the weights restores the 32-px architecture
    again = load_model("blip_caption", "tiny", checkpoint=path)
    assert again.config.image_size == 32 and _sd_equal(model, again)
    with pytest.raises(Exception, match="blip_caption"):
        load_model("blip_vqa", "tiny", checkpoint=path)


@pytest.mark.parametrize("wrapped", [True, False])
def test_released_format_pth(tmp_path: Path, wrapped: bool) -> None:
    model = load_model("blip_vqa", "tiny", pretrained=False)
    sd = model.state_dict()
    torch.save({"model": sd} if wrapped else sd, tmp_path / "vqa.pth")
    assert _sd_equal(model, load_model("blip_vqa", "tiny", checkpoint=tmp_path / "vqa.pth"))


def test_pretraining_checkpoint_into_task_models(tmp_path: Path) -> None:
    pre = load_model("blip_pretrain", "tiny", pretrained=False)
    torch.save({"model": pre.state_dict()}, tmp_path / "pre.pth")
    with pytest.raises(CheckpointError, match=r"unexpected: .*(itm_head|text_encoder_m|image_queue)"):
        load_model("blip_caption", "tiny", checkpoint=tmp_path / "pre.pth")
    # the YAML's `pretrained` weights load non-strictly, keeping what the task model has
    cap_cls = registry.get_model_class("blip_caption")
    cap = cap_cls.from_pretrained("tiny", pretrained=str(tmp_path / "pre.pth"), load_pretrained=True)
    head, pre_head = cap.text_decoder.cls.predictions, pre.text_decoder.cls.predictions
    assert torch.equal(head.transform.dense.weight, pre_head.transform.dense.weight)
    assert torch.equal(cap.visual_encoder.pos_embed, pre.visual_encoder.pos_embed)
    assert _sd_equal(cap, load_model("blip_caption", "tiny", checkpoint=tmp_path / "pre.pth", strict=False))
    # NLVR's hook: both cross-attention branches start from the single-image one
    nlvr = load_model("blip_nlvr", "tiny", checkpoint=tmp_path / "pre.pth", strict=False)
    layer, ref = nlvr.text_encoder.encoder.layer[0].crossattention, pre.text_encoder.encoder.layer[0].crossattention
    for branch in (layer.self0, layer.self1):
        assert torch.equal(branch.query.weight, ref.self.query.weight)


def test_pos_embed_interpolated_on_load_including_momentum_encoder(tmp_path: Path) -> None:
    small = load_model("blip_retrieval", "tiny", pretrained=False, image_size=32)  # 4x4 grid, as 224 vs 384
    torch.save({"model": small.state_dict()}, tmp_path / "ret32.pth")
    big = load_model("blip_retrieval", "tiny", checkpoint=tmp_path / "ret32.pth")
    assert big.visual_encoder.pos_embed.shape[1] == 65 and big.visual_encoder_m.pos_embed.shape[1] == 65
    report = big.load_checkpoint(tmp_path / "ret32.pth")
    assert sorted(report.interpolated) == ["visual_encoder.pos_embed", "visual_encoder_m.pos_embed"]
    torch.testing.assert_close(big.visual_encoder.pos_embed[:, 0], small.visual_encoder.pos_embed[:, 0])


def _hf_dir(tmp_path: Path, hf_class: str) -> tuple[object, Path]:
    torch.manual_seed(0)
    hf = getattr(transformers, hf_class)(eq.tiny_hf_config(hf_class)).eval()
    if hasattr(hf, "text_decoder"):
        with torch.no_grad():  # make [SEP] likely mid-sentence so beams finish at different steps
            hf.text_decoder.cls.predictions.bias[102] += 4.0
    out = tmp_path / hf_class
    hf.save_pretrained(out)
    return hf, out


def test_transformers_caption_dir(tmp_path: Path) -> None:
    hf, path = _hf_dir(tmp_path, "BlipForConditionalGeneration")
    model = load_model("blip_caption", "tiny", checkpoint=path, is_eval=True)
    eq.assert_caption_equivalent(model, hf)


def test_transformers_retrieval_dir(tmp_path: Path) -> None:
    hf, path = _hf_dir(tmp_path, "BlipForImageTextRetrieval")
    model = load_model("blip_image_text_matching", "tiny", checkpoint=path, is_eval=True)
    eq.assert_matching_equivalent(model, hf)


def test_transformers_vqa_dir(tmp_path: Path) -> None:
    hf, path = _hf_dir(tmp_path, "BlipForQuestionAnswering")
    model = load_model("blip_vqa", "tiny", checkpoint=path, is_eval=True)
    eq.assert_vqa_equivalent(model, hf)


def test_transformers_dir_with_pytorch_model_bin(tmp_path: Path) -> None:
    hf, path = _hf_dir(tmp_path, "BlipForImageTextRetrieval")
    sd = {k: v.contiguous() for k, v in hf.state_dict().items()}
    (path / "model.safetensors").unlink()
    torch.save(sd, path / "pytorch_model.bin")
    model = load_model("blip_image_text_matching", "tiny", checkpoint=path, is_eval=True)
    assert torch.equal(model.itm_head.weight, hf.itm_head.weight)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"queue_size": 0}, "model.queue_size must be >= 1"),
        ({"momentum": 1.0}, "model.momentum must be in [0, 1)"),
        ({"temp": 0.0}, "model.temp must be > 0"),
        ({"alpha": 1.5}, "model.alpha must be in [0, 1]"),
    ],
)
def test_impossible_model_settings_name_the_key(override: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_model("blip_retrieval", "tiny", pretrained=False, **override)

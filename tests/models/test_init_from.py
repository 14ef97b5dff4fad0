"""model.init_from: the paper's start (ImageNet ViT through timm, BERT through transformers), offline.

Random timm and transformers models at the tiny preset's shape are saved in their libraries' own formats
(and planted in the Hugging Face cache layout, as a download leaves them) and loaded through the same path
a real `timm:deit_base_patch16_224.fb_in1k` / `bert-base-uncased` takes. Every model key and every source
key must be accounted for.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from vlkit.models import load_model
from vlkit.models.init_from import InitReport, plan_init
from vlkit.models.init_sources import InitFromError

timm = pytest.importorskip("timm")
transformers = pytest.importorskip("transformers")

TINY_VIT = {"img_size": 64, "patch_size": 8, "embed_dim": 128, "depth": 4, "num_heads": 4}
TINY_BERT = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512}


def _plant_in_hf_cache(cache: Path, repo: str, files: dict[str, Path]) -> None:
    """Lay files out as huggingface_hub's cache does after a download (refs/main -> snapshots/<rev>/)."""
    root = cache / "huggingface" / ("models--" + repo.replace("/", "--"))
    rev = "0" * 40
    (root / "refs").mkdir(parents=True, exist_ok=True)
    (root / "refs" / "main").write_text(rev)
    snap = root / "snapshots" / rev
    snap.mkdir(parents=True, exist_ok=True)
    for name, src in files.items():
        shutil.copy(src, snap / name)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("init_sources")
    torch.manual_seed(0)
    vit = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=7, **TINY_VIT)
    vit_sd = {k: v.contiguous() for k, v in vit.state_dict().items()}
    save_file(vit_sd, str(root / "vit.safetensors"))
    torch.save({"model": vit_sd}, root / "deit_release.pth")  # DeiT's released layout
    (root / "vit_dir").mkdir()
    torch.save(vit_sd, root / "vit_dir" / "pytorch_model.bin")
    (root / "vit_dir" / "config.json").write_text('{"architecture": "vit_base_patch16_224", "num_classes": 7}')
    bert = transformers.BertLMHeadModel(transformers.BertConfig(is_decoder=True, **TINY_BERT))
    bert.save_pretrained(root / "bert")
    return {"root": root, "vit": vit_sd, "bert": bert.state_dict()}


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sources: dict[str, object]) -> Path:
    monkeypatch.setenv("VLKIT_CACHE", str(tmp_path))
    monkeypatch.setenv("VLKIT_OFFLINE", "1")
    root = sources["root"]
    _plant_in_hf_cache(tmp_path, "timm/deit_tiny_patch16_224.fb_in1k", {"model.safetensors": root / "vit.safetensors"})
    bert_files = {p.name: p for p in (root / "bert").iterdir()}
    _plant_in_hf_cache(tmp_path, "bert-base-uncased", bert_files)
    return tmp_path


def _pretrain(**init_from: str) -> torch.nn.Module:
    return load_model("blip_pretrain", "tiny", init_from=init_from)


def test_hub_names_load_from_the_cache_offline_and_every_key_is_accounted_for(
    offline_cache: Path, sources: dict[str, object]
) -> None:
    model = _pretrain(vision="timm:deit_tiny_patch16_224.fb_in1k", text="bert-base-uncased")
    report = model.load_report
    assert isinstance(report, InitReport) and not report.random_init
    own = model.state_dict()
    groups = [set(report.loaded), set(report.new), set(report.copied)]
    assert set().union(*groups) == set(own) and sum(map(len, groups)) == len(own)  # each key in exactly one group
    assert set(report.unused) == {
        "vision:head.weight",
        "vision:head.bias",
        "text:bert.embeddings.token_type_embeddings.weight",
    }
    assert set(report.new.values()) == {
        "cross-attention (BERT has none)",
        "BLIP head or buffer (not part of ViT or BERT)",
        "index buffer (arange)",
    }
    assert all(".crossattention." in k for k, why in report.new.items() if why.startswith("cross"))
    assert {k.split(".")[0] for k, why in report.new.items() if why.startswith("BLIP")} == {
        "vision_proj",
        "text_proj",
        "itm_head",
        "temp",
        "image_queue",
        "text_queue",
        "queue_ptr",
    }
    # every source key but the unused ones is loaded somewhere
    used = set(report.loaded.values())
    assert {f"vision:{k}" for k in sources["vit"]} | {f"text:{k}" for k in sources["bert"]} == used | set(report.unused)

    vit, bert = sources["vit"], sources["bert"]
    assert torch.equal(own["visual_encoder.blocks.3.attn.qkv.weight"], vit["blocks.3.attn.qkv.weight"])
    assert torch.equal(own["visual_encoder.pos_embed"], vit["pos_embed"])
    q = "encoder.layer.2.attention.self.query.weight"
    assert torch.equal(own[f"text_encoder.{q}"], bert[f"bert.{q}"])
    assert torch.equal(own[f"text_decoder.bert.{q}"], bert[f"bert.{q}"])  # the decoder's own self-attention
    assert torch.equal(
        own["text_decoder.cls.predictions.transform.dense.weight"], bert["cls.predictions.transform.dense.weight"]
    )
    words = own["text_encoder.embeddings.word_embeddings.weight"]
    assert words.shape[0] == 30524 and torch.equal(words[:30522], bert["bert.embeddings.word_embeddings.weight"])
    assert "text_encoder.embeddings.word_embeddings.weight" in report.resized
    assert torch.equal(own["text_decoder.cls.predictions.decoder.bias"][:30522], bert["cls.predictions.bias"])
    # momentum encoders start equal to the loaded online ones
    assert torch.equal(own["visual_encoder_m.blocks.0.mlp.fc1.weight"], vit["blocks.0.mlp.fc1.weight"])
    assert torch.equal(own[f"text_encoder_m.{q}"], bert[f"bert.{q}"])
    out = model({"image": torch.randn(2, 3, 64, 64), "text_input": ["a red circle", "a blue square"]})
    assert torch.isfinite(out.loss)


def test_every_vision_format_loads_the_same_weights(offline_cache: Path, sources: dict[str, object]) -> None:
    root = sources["root"]
    key = "visual_encoder.blocks.1.attn.proj.weight"
    for spec in (root / "vit.safetensors", root / "deit_release.pth", root / "vit_dir"):
        model = _pretrain(vision=str(spec))
        assert torch.equal(model.state_dict()[key], sources["vit"]["blocks.1.attn.proj.weight"]), spec
        new = model.load_report.new
        assert new["text_encoder.encoder.layer.0.attention.self.query.weight"] == "model.init_from.text not given"
    text_only = _pretrain(text=str(root / "bert"))
    assert text_only.load_report.new["visual_encoder.cls_token"] == "model.init_from.vision not given"


def test_bad_sources_name_the_key_and_what_to_fetch(offline_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(InitFromError, match=r"model\.init_from\.vision: '/nope/vit\.pth' does not exist"):
        _pretrain(vision="/nope/vit.pth")
    miss = "https://huggingface.co/timm/deit_small_patch16_224.fb_in1k/resolve/main/model.safetensors"
    with pytest.raises(InitFromError, match=r"model\.init_from\.vision: .*not in the cache.*offline") as err:
        _pretrain(vision="timm:deit_small_patch16_224.fb_in1k")
    assert miss in str(err.value)
    with pytest.raises(InitFromError, match=r"model\.init_from\.text: .*https://huggingface\.co/bert-large-uncased"):
        _pretrain(text="bert-large-uncased")
    with pytest.raises(InitFromError, match=r"model\.init_from\.text: '/nope/bert'"):
        _pretrain(text="/nope/bert")
    with pytest.raises(InitFromError, match=r"model\.init_from\.image is not a source"):
        _pretrain(image="x")
    small = timm.create_model("vit_base_patch16_224", pretrained=False, **{**TINY_VIT, "embed_dim": 64})
    torch.save(small.state_dict(), tmp_path / "small.pth")
    with pytest.raises(InitFromError, match=r"does not load into a ViT of this model's shape"):
        _pretrain(vision=str(tmp_path / "small.pth"))
    with pytest.raises(ValueError, match=r"model\.init_from and model\.load_pretrained=true"):
        load_model("blip_pretrain", "tiny", init_from={"text": "bert-base-uncased"}, load_pretrained=True)


def test_plan_init_refuses_unexplained_keys() -> None:
    own = {"visual_encoder.w": torch.zeros(2), "text_encoder.embeddings.x": torch.zeros(2)}
    values, report = plan_init(own, {"vision": {"w": torch.ones(2)}, "text": {"bert.embeddings.x": torch.ones(2)}})
    assert set(values) == set(own) and not report.new
    with pytest.raises(InitFromError, match=r"source keys fit no model key: vision:extra"):
        plan_init(
            own, {"vision": {"w": torch.ones(2), "extra": torch.ones(1)}, "text": {"bert.embeddings.x": torch.ones(2)}}
        )
    with pytest.raises(InitFromError, match=r"model keys have no source weights: text_encoder\.embeddings\.x"):
        plan_init(own, {"vision": {"w": torch.ones(2)}, "text": {}})
    with pytest.raises(InitFromError, match=r"has shape \(3,\) but visual_encoder\.w needs \(2,\)"):
        plan_init(own, {"vision": {"w": torch.ones(3)}})

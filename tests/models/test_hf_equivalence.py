"""Numerical equivalence of vlkit's ViT, MED and decoding loop with transformers' BLIP on the same weights.

Beam search is compared under ``length_normalization="generated"``, the installed transformers' rule; the
default (``full``, transformers 4.15's) is checked against 4.15 itself by ``benchmarks/verify_tf415_beam.py``.
"""

from __future__ import annotations

import pytest
import torch

from vlkit.models.convert_hf import hf_blip_to_vlkit, vlkit_to_hf_blip
from vlkit.models.generation import GenerationConfig, generate
from vlkit.models.med import MedForCausalLM, MedTextModel, med_config
from vlkit.models.vit import VisionConfig, VisionTransformer

transformers = pytest.importorskip("transformers")

PROMPT = [30522, 1037, 3861, 1997]  # [DEC] a picture of


def _hf_caption_model(width: int, text_width: int, layers: int, heads: int, image: int, patch: int) -> object:
    cfg = transformers.BlipConfig(
        text_config=dict(
            hidden_size=text_width,
            num_hidden_layers=layers,
            num_attention_heads=heads,  # transformers defaults to 8; BLIP uses 12 at base size
            intermediate_size=4 * text_width,
            encoder_hidden_size=width,
            vocab_size=30524,
            bos_token_id=30522,
            sep_token_id=102,
            pad_token_id=0,
        ),
        vision_config=dict(
            hidden_size=width,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=4 * width,
            image_size=image,
            patch_size=patch,
            layer_norm_eps=1e-6,  # transformers defaults to 1e-5; BLIP's ViT uses 1e-6
        ),
    )
    torch.manual_seed(0)
    model = transformers.BlipForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # make EOS likely mid-sentence so beams finish at different steps
        model.text_decoder.cls.predictions.bias[102] += 4.0
    return model


def _vlkit_pair(hf: object, width: int, text_width: int, layers: int, heads: int, image: int, patch: int) -> tuple:
    sd = hf_blip_to_vlkit(hf.state_dict(), "caption")
    vit = VisionTransformer(
        VisionConfig(image_size=image, patch_size=patch, width=width, depth=layers, num_heads=heads)
    )
    dec = MedForCausalLM(
        med_config(
            "base",
            hidden_size=text_width,
            num_layers=layers,
            num_heads=heads,
            intermediate_size=4 * text_width,
            encoder_width=width,
        )
    )
    vit.load_state_dict(
        {k.removeprefix("visual_encoder."): v for k, v in sd.items() if k.startswith("visual_encoder.")}
    )
    dec.load_state_dict({k.removeprefix("text_decoder."): v for k, v in sd.items() if k.startswith("text_decoder.")})
    return vit.eval(), dec.eval()


SMALL = dict(width=48, text_width=64, layers=2, heads=4, image=64, patch=16)


@pytest.fixture(scope="module")
def small_models() -> tuple:
    hf = _hf_caption_model(**SMALL)
    return (hf, *_vlkit_pair(hf, **SMALL))


def test_vision_and_decoder_logits_match(small_models: tuple) -> None:
    hf, vit, dec = small_models
    torch.manual_seed(1)
    img = torch.randn(2, 3, 64, 64)
    ids = torch.tensor([PROMPT + [2417, 4418], PROMPT + [2630, 0]])
    att = (ids != 0).long()
    with torch.no_grad():
        feats_hf = hf.vision_model(pixel_values=img).last_hidden_state
        feats = vit(img)
        logits_hf = hf.text_decoder(input_ids=ids, attention_mask=att, encoder_hidden_states=feats_hf).logits
        logits = dec(ids, att, encoder_hidden_states=feats).logits
    assert (feats - feats_hf).abs().max() <= 1e-4
    assert (logits - logits_hf)[att.bool()].abs().max() <= 1e-4


@pytest.mark.parametrize("num_beams,min_length,max_length", [(1, 5, 14), (3, 5, 14), (3, 8, 20), (4, 4, 10)])
def test_greedy_and_beam_tokens_identical(
    small_models: tuple, num_beams: int, min_length: int, max_length: int
) -> None:
    hf, vit, dec = small_models
    torch.manual_seed(2)
    img = torch.randn(3, 3, 64, 64) * 3
    prompt = torch.tensor([PROMPT] * 3)
    with torch.no_grad():
        expected = hf.generate(
            pixel_values=img,
            input_ids=torch.cat([prompt, torch.full((3, 1), 102)], dim=1),  # transformers strips the trailing [SEP]
            num_beams=num_beams,
            max_length=max_length,
            min_length=min_length,
            do_sample=False,
        )
        got = generate(
            dec,
            prompt,
            vit(img),
            None,
            GenerationConfig(
                num_beams=num_beams,
                max_length=max_length,
                min_length=min_length,
                length_normalization="generated",  # transformers 5's beam scoring
            ),
        )
    for row_hf, row in zip(expected.tolist(), got.tolist(), strict=True):
        cut = lambda r: r[: r.index(102) + 1] if 102 in r[len(PROMPT) :] else r  # noqa: E731 - padding differs
        assert cut(row) == cut(row_hf)
    assert any(102 in r for r in got.tolist()), "the test should exercise finished hypotheses"


def test_text_encoder_matches_in_both_modes() -> None:
    cfg = transformers.BlipTextConfig(
        vocab_size=30524,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        encoder_hidden_size=48,
    )
    torch.manual_seed(3)
    hf = transformers.models.blip.modeling_blip_text.BlipTextModel(cfg, add_pooling_layer=False).eval()
    ours = MedTextModel(
        med_config("base", hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128, encoder_width=48)
    ).eval()
    missing = ours.load_state_dict(hf.state_dict(), strict=False)
    assert missing.missing_keys == ["embeddings.position_ids"] and not missing.unexpected_keys
    ids = torch.tensor([[30523, 1037, 2417, 4418, 102], [30523, 2630, 102, 0, 0]])
    att = (ids != 0).long()
    img = torch.randn(2, 9, 48)
    with torch.no_grad():
        for mode in ("text", "multimodal"):
            # transformers has no mode switch: cross-attention runs whenever image features are passed
            hf_img = img if mode == "multimodal" else None
            a = hf(input_ids=ids, attention_mask=att, encoder_hidden_states=hf_img).last_hidden_state
            b = ours(ids, att, encoder_hidden_states=img, mode=mode).last_hidden_state
            assert (a - b)[att.bool()].abs().max() <= 1e-4


@pytest.mark.parametrize(
    "arch,hf_class",
    [
        ("caption", "BlipForConditionalGeneration"),
        ("retrieval", "BlipForImageTextRetrieval"),
        ("vqa", "BlipForQuestionAnswering"),
    ],
)
def test_state_dict_round_trip_through_transformers_layout(arch: str, hf_class: str) -> None:
    cfg = transformers.BlipConfig(
        text_config=dict(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=64,
            encoder_hidden_size=24,
            vocab_size=30524,
        ),
        vision_config=dict(
            hidden_size=24,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=96,
            image_size=32,
            patch_size=16,
            layer_norm_eps=1e-6,
        ),
    )
    hf_state = getattr(transformers, hf_class)(cfg).state_dict()
    ours = hf_blip_to_vlkit(hf_state, arch)
    assert "visual_encoder.blocks.0.attn.proj.weight" in ours and "visual_encoder.pos_embed" in ours
    # every converted part loads strictly into vlkit's modules
    vit = VisionTransformer(VisionConfig(image_size=32, patch_size=16, width=24, depth=1, num_heads=4))
    vit.load_state_dict(
        {k.removeprefix("visual_encoder."): v for k, v in ours.items() if k.startswith("visual_encoder.")}
    )
    text_cfg = med_config("base", hidden_size=32, num_layers=1, num_heads=4, intermediate_size=64, encoder_width=24)
    parts = {"text_encoder.": MedTextModel(text_cfg), "text_decoder.": MedForCausalLM(text_cfg)}
    loaded = 0
    for prefix, module in parts.items():
        sub = {k.removeprefix(prefix): v for k, v in ours.items() if k.startswith(prefix)}
        if sub:
            module.load_state_dict(sub)
            loaded += 1
    assert loaded == (2 if arch == "vqa" else 1)
    back = vlkit_to_hf_blip(ours, arch)
    assert set(back) == set(hf_state) and all(back[k] is hf_state[k] for k in back)
    with pytest.raises(ValueError, match="caption"):
        hf_blip_to_vlkit(hf_state, "nlvr")


@pytest.mark.slow
def test_base_size_decoder_and_vision_match() -> None:
    base = dict(width=768, text_width=768, layers=12, heads=12, image=224, patch=16)
    hf = _hf_caption_model(**base)
    vit, dec = _vlkit_pair(hf, **base)
    torch.manual_seed(4)
    img = torch.randn(1, 3, 224, 224)
    prompt = torch.tensor([PROMPT])
    with torch.no_grad():
        feats_hf = hf.vision_model(pixel_values=img).last_hidden_state
        feats = vit(img)
        assert (feats - feats_hf).abs().max() <= 1e-4
        logits_hf = hf.text_decoder(input_ids=prompt, encoder_hidden_states=feats_hf).logits
        assert (dec(prompt, encoder_hidden_states=feats).logits - logits_hf).abs().max() <= 1e-4
        expected = hf.generate(
            pixel_values=img,
            input_ids=torch.cat([prompt, torch.tensor([[102]])], 1),
            num_beams=3,
            max_length=20,
            min_length=5,
        )
        got = generate(
            dec,
            prompt,
            feats,
            None,
            GenerationConfig(num_beams=3, max_length=20, min_length=5, length_normalization="generated"),
        )
    n = min(expected.shape[1], got.shape[1])
    assert got[0, :n].tolist() == expected[0, :n].tolist()

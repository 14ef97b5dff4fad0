"""MED: released-checkpoint keys, attention modes, the KV cache, NLVR² cross-attention, LM loss and weight sharing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vlkit.models.med import (
    MED_PRESETS,
    MedConfig,
    MedForCausalLM,
    MedTextModel,
    lm_loss,
    med_config,
    tie_text_weights,
)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "model_core_keys.json.gz"
REFERENCE = json.loads(gzip.open(FIXTURE, "rt").read())["families"]
TINY = dict(vocab_size=50, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64, encoder_width=24)


def _shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    "factory,family",
    [
        (lambda: MedTextModel(med_config("base")), "med_encoder_base"),
        (lambda: MedForCausalLM(med_config("base")), "med_decoder_base"),
        (lambda: MedTextModel(med_config("base", num_cross_images=2)), "med_nlvr_base"),
    ],
)
def test_keys_and_shapes_match_released_checkpoints(factory: object, family: str) -> None:
    with torch.device("meta"):
        model = factory()
    assert _shapes(model) == REFERENCE[family]


def test_presets_and_unknown_size() -> None:
    assert med_config("base") == MedConfig()
    assert med_config("tiny").hidden_size == MED_PRESETS["tiny"]["hidden_size"] == 128
    with pytest.raises(ValueError, match="base"):
        med_config("xl")


def _encoder(**overrides: object) -> MedTextModel:
    torch.manual_seed(0)
    return MedTextModel(MedConfig(**{**TINY, **overrides})).eval()


def _decoder(**overrides: object) -> MedForCausalLM:
    torch.manual_seed(0)
    return MedForCausalLM(MedConfig(**{**TINY, **overrides})).eval()


def _ids(batch: int = 2, length: int = 6) -> torch.Tensor:
    return torch.randint(1, 50, (batch, length), generator=torch.Generator().manual_seed(1))


def _image(batch: int = 2, tokens: int = 5) -> torch.Tensor:
    return torch.randn(batch, tokens, 24, generator=torch.Generator().manual_seed(2))


@torch.no_grad()
def test_text_mode_ignores_image_and_multimodal_mode_reads_it() -> None:
    enc, ids, img = _encoder(), _ids(), _image()
    text = enc(ids, mode="text").last_hidden_state
    assert torch.equal(text, enc(ids, encoder_hidden_states=img, mode="text").last_hidden_state)
    multi = enc(ids, encoder_hidden_states=img).last_hidden_state
    assert not torch.allclose(text, multi, atol=1e-3)
    assert not torch.allclose(multi, enc(ids, encoder_hidden_states=img * 2).last_hidden_state, atol=1e-3)
    with pytest.raises(ValueError, match="encoder_hidden_states"):
        enc(ids)
    with pytest.raises(ValueError, match="mode"):
        enc(ids, mode="fusion")


@torch.no_grad()
def test_causal_decoder_vs_bidirectional_encoder() -> None:
    enc, ids, img = _encoder(), _ids(), _image()
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 50
    for is_decoder in (True, False):
        a = enc(ids, encoder_hidden_states=img, is_decoder=is_decoder).last_hidden_state
        b = enc(changed, encoder_hidden_states=img, is_decoder=is_decoder).last_hidden_state
        # a later token may only influence earlier positions in the bidirectional encoder
        assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-6) == is_decoder


@torch.no_grad()
def test_padding_is_masked() -> None:
    enc, ids, img = _encoder(), _ids(), _image()
    padded = torch.cat([ids, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    mask = (padded != 0).long()
    img_mask = torch.ones(2, 7, dtype=torch.long)
    img_mask[:, 5:] = 0
    img_padded = torch.cat([img, torch.randn(2, 2, 24)], dim=1)
    for is_decoder in (False, True):
        ref = enc(ids, encoder_hidden_states=img, is_decoder=is_decoder).last_hidden_state
        out = enc(
            padded, mask, encoder_hidden_states=img_padded, encoder_attention_mask=img_mask, is_decoder=is_decoder
        ).last_hidden_state
        assert torch.allclose(out[:, :6], ref, atol=1e-5)


@torch.no_grad()
def test_kv_cache_matches_full_recompute_with_grouped_rows() -> None:
    dec, img = _decoder(), _image()
    group = 3
    ids = _ids(2 * group, 7)
    mask = torch.ones_like(ids)
    mask[0, 5:] = 0  # a row that is padded at the end
    img_mask = torch.ones(2, 5, dtype=torch.long)
    img_mask[1, 4] = 0
    full = dec(
        ids,
        mask,
        encoder_hidden_states=img.repeat_interleave(group, 0),
        encoder_attention_mask=img_mask.repeat_interleave(group, 0),
    ).logits
    # incremental: a 3-token prompt, then one token at a time; image K/V kept per image (not per row)
    out = dec(ids[:, :3], mask[:, :3], encoder_hidden_states=img, encoder_attention_mask=img_mask, use_cache=True)
    steps, cache = [out.logits], out.past_key_values
    assert cache.length == 3 and cache.cross_kv[0][0].shape[0] == 2 and cache.self_kv[0][0].shape[0] == 6
    for t in range(3, 7):
        out = dec(
            ids[:, t : t + 1], mask[:, : t + 1], encoder_attention_mask=img_mask, past_key_values=cache, use_cache=True
        )
        steps.append(out.logits)
        cache = out.past_key_values
    incremental = torch.cat(steps, dim=1)
    keep = mask.bool()
    assert (incremental - full)[keep].abs().max() <= 1e-5


@torch.no_grad()
def test_cache_reorder_selects_rows() -> None:
    dec, img = _decoder(), _image(1)
    ids = _ids(3, 4)
    cache = dec(ids, encoder_hidden_states=img, use_cache=True).past_key_values
    before = [kv[0].clone() for kv in cache.self_kv]
    cache.reorder(torch.tensor([2, 2, 0]))
    for old, kv in zip(before, cache.self_kv, strict=True):
        assert torch.equal(kv[0], old[[2, 2, 0]])
    assert cache.cross_kv[0][0].shape[0] == 1  # per-image cross K/V are not copied per row


def _copy_single_into_nlvr(single: MedTextModel, nlvr: MedTextModel) -> None:
    """Give both image branches the single-image weights; merge layers average the two branches."""
    state = nlvr.state_dict()
    for key, value in single.state_dict().items():
        if ".crossattention.self." in key:
            for branch in ("self0", "self1"):
                state[key.replace(".self.", f".{branch}.")] = value
        elif ".crossattention.output.dense." in key:
            for branch in ("dense0", "dense1"):
                state[key.replace(".dense.", f".{branch}.")] = value
        else:
            state[key] = value
    hidden = single.config.hidden_size
    for i in range(nlvr.config.num_layers):
        prefix = f"encoder.layer.{i}.crossattention.output.merge_layer."
        assert (prefix + "weight" in state) == (i >= nlvr.config.nlvr_merge_layer)
        if prefix + "weight" in state:
            state[prefix + "weight"] = torch.cat([torch.eye(hidden), torch.eye(hidden)], dim=1) / 2
            state[prefix + "bias"] = torch.zeros(hidden)
    nlvr.load_state_dict(state)


@torch.no_grad()
def test_nlvr_two_image_cross_attention() -> None:
    single = _encoder(num_layers=3)
    nlvr = _encoder(num_layers=3, num_cross_images=2, nlvr_merge_layer=1)
    _copy_single_into_nlvr(single, nlvr)
    ids, img, other = _ids(), _image(), _image() * -1
    ref = single(ids, encoder_hidden_states=img).last_hidden_state
    mask = torch.ones(2, 5, dtype=torch.long)
    same = nlvr(ids, encoder_hidden_states=[img, img], encoder_attention_mask=[mask, mask]).last_hidden_state
    assert torch.allclose(same, ref, atol=1e-5)  # identical images: averaging/merging both branches is a no-op
    swapped_a = nlvr(ids, encoder_hidden_states=[img, other]).last_hidden_state
    assert not torch.allclose(swapped_a, ref, atol=1e-3)


def test_lm_head_is_tied_to_word_embeddings() -> None:
    dec = _decoder()
    head = dec.cls.predictions
    assert head.decoder.weight is dec.bert.embeddings.word_embeddings.weight
    assert head.bias is head.decoder.bias
    state = dec.state_dict()
    assert {"cls.predictions.decoder.weight", "cls.predictions.bias", "cls.predictions.decoder.bias"} <= set(state)
    state["bert.embeddings.word_embeddings.weight"] = torch.randn(50, 32)
    state["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"]
    dec.load_state_dict(state)
    assert head.decoder.weight is dec.bert.embeddings.word_embeddings.weight


def test_lm_loss_shift_ignore_smoothing_and_per_sequence_sum() -> None:
    torch.manual_seed(3)
    logits = torch.randn(2, 5, 11)
    labels = torch.randint(0, 11, (2, 5))
    labels[0, 3:] = -100
    flat_logits, flat_labels = logits[:, :-1].reshape(-1, 11), labels[:, 1:].reshape(-1)
    expected = F.cross_entropy(flat_logits, flat_labels, ignore_index=-100, label_smoothing=0.1, reduction="none")
    per_seq = lm_loss(logits, labels, 0.1, "none")
    assert per_seq.shape == (2,)
    assert torch.allclose(per_seq, expected.view(2, 4).sum(1))
    assert torch.allclose(lm_loss(logits, labels, 0.1), expected[flat_labels != -100].mean())
    # the decoder applies the same loss to its own logits
    dec, ids = _decoder(), _ids()
    out = dec(ids, labels=ids, encoder_hidden_states=_image(), label_smoothing=0.1, reduction="none")
    assert torch.allclose(out.loss, lm_loss(out.logits, ids, 0.1, "none"))


def test_loss_only_matches_the_full_logits_loss_and_gradients() -> None:
    torch.manual_seed(4)
    dec, ids, image = _decoder(), _ids(), _image()
    labels = ids.clone()
    labels[:, :2] = -100  # a prompt
    labels[0, -2:] = -100  # padding
    full = dec(ids, labels=labels, encoder_hidden_states=image, label_smoothing=0.1)
    full.loss.backward()
    full_grads = {k: p.grad.clone() for k, p in dec.named_parameters() if p.grad is not None}
    dec.zero_grad()
    fast = dec(ids, labels=labels, encoder_hidden_states=image, label_smoothing=0.1, loss_only=True)
    fast.loss.backward()
    assert fast.logits is None and torch.allclose(fast.loss, full.loss, atol=1e-6)
    fast_grads = {k: p.grad for k, p in dec.named_parameters() if p.grad is not None}
    assert fast_grads.keys() == full_grads.keys()
    for k, g in full_grads.items():
        assert torch.allclose(fast_grads[k], g, atol=1e-6), k
    with pytest.raises(ValueError, match="loss_only=True needs labels"):
        dec(ids, encoder_hidden_states=image, loss_only=True)
    with pytest.raises(ValueError, match="reduction='mean'"):
        dec(ids, labels=labels, encoder_hidden_states=image, reduction="none", loss_only=True)


def test_tie_text_weights_strategies() -> None:
    def pair() -> tuple[MedTextModel, MedTextModel]:
        return _encoder(), _decoder().bert

    enc, dec = pair()
    tie_text_weights(enc, dec)  # the paper's choice: everything but self-attention
    layer_e, layer_d = enc.encoder.layer[0], dec.encoder.layer[0]
    assert dec.embeddings.word_embeddings.weight is enc.embeddings.word_embeddings.weight
    assert layer_d.crossattention.self.key.weight is layer_e.crossattention.self.key.weight
    assert layer_d.intermediate.dense.weight is layer_e.intermediate.dense.weight
    assert layer_d.output.LayerNorm.weight is layer_e.output.LayerNorm.weight
    assert layer_d.attention.self.query.weight is not layer_e.attention.self.query.weight
    assert set(dec.state_dict()) == set(enc.state_dict())  # both key sets stay in the state dict

    enc, dec = pair()
    tie_text_weights(enc, dec, "all")
    assert dec.encoder.layer[1].attention.output.dense.weight is enc.encoder.layer[1].attention.output.dense.weight

    enc, dec = pair()
    tie_text_weights(enc, dec, "none")
    shared = {id(p) for p in enc.parameters()} & {id(p) for p in dec.parameters()}
    assert not shared
    with pytest.raises(ValueError, match="share_strategy"):
        tie_text_weights(enc, dec, "some")

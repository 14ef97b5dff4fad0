"""The original BLIP semantics where it matters: first tokens, label smoothing, hard negatives, momentum,
queues, temperature, weight sharing, NLVR branch initialisation, VQA answer ranking."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vlkit.models import load_model
from vlkit.models.med import lm_loss

TEXTS = ["a red circle", "two blue squares", "a green triangle above a square", "a purple diamond"]


def _batch(n: int = 4, ids: list[int] | None = None) -> dict:
    torch.manual_seed(0)
    return {
        "image": torch.randn(n, 3, 64, 64),
        "text_input": TEXTS[:n],
        "image_id": torch.tensor(ids if ids is not None else list(range(n))),
    }


def test_first_tokens_cls_enc_dec_in_pretraining() -> None:
    model = load_model("blip_pretrain", "tiny")
    seen: list[int] = []
    model.text_encoder.embeddings.register_forward_pre_hook(lambda m, args: seen.extend(args[0][:, 0].tolist()))
    model(_batch())
    # unimodal encoder [CLS], image-grounded encoder [ENC], decoder [DEC] (embeddings are shared)
    assert {101, 30523, 30522} <= set(seen)


def test_caption_loss_is_label_smoothed_and_skips_prompt() -> None:
    model = load_model("blip_caption", "tiny").eval()
    batch = _batch(2)
    out = model(batch)
    ids, atts = model.tokenize([model.prompt + t for t in batch["text_input"]])
    ids[:, 0] = 30522
    logits = model.text_decoder(ids, atts, encoder_hidden_states=model.encode_image(batch["image"])).logits
    labels = ids.masked_fill(ids == 0, -100)
    labels[:, : model.prompt_length] = -100
    manual = F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100, label_smoothing=0.1
    )
    assert torch.allclose(out.loss, manual, atol=1e-5)
    assert model.prompt_length == 4  # [DEC] a picture of


def test_hard_negatives_never_positive_or_same_image() -> None:
    model = load_model("blip_retrieval", "tiny")
    ids = [0, 0, 1, 2]
    for _ in range(5):
        model(_batch(4, ids))
        neg_text, neg_image = model._last_hard_negatives
        for i, (t, im) in enumerate(zip(neg_text.tolist(), neg_image.tolist(), strict=True)):
            assert ids[t] != ids[i] and ids[im] != ids[i]


def test_momentum_ema_no_grads_and_queue_wraps() -> None:
    model = load_model("blip_retrieval", "tiny")  # queue 256
    m = model.config.momentum
    p, p_m = model.vision_proj.weight, model.vision_proj_m.weight
    with torch.no_grad():
        p.add_(1.0)
    before, online = p_m.detach().clone(), p.detach().clone()
    out = model(_batch())
    assert torch.allclose(p_m, m * before + (1 - m) * online, atol=1e-6)
    out.loss.backward()
    assert p_m.grad is None and not p_m.requires_grad
    for _ in range(64):  # 65 batches of 4 = 260 > 256 entries: the pointer wraps
        model(_batch())
    assert int(model.ptr_queue) == (65 * 4) % 256
    assert (model.idx_queue >= 0).all()


def test_temperature_clamped() -> None:
    model = load_model("blip_retrieval", "tiny")
    with torch.no_grad():
        model.temp.fill_(3.0)
    model(_batch())
    assert float(model.temp.detach()) == pytest.approx(0.5)


@pytest.mark.parametrize("strategy", ["all_but_self_attention", "all", "none"])
def test_share_strategies(strategy: str) -> None:
    model = load_model("blip_pretrain", "tiny", share_strategy=strategy)
    enc, dec = model.text_encoder, model.text_decoder.bert
    shared = {id(p) for p in enc.parameters()} & {id(p) for p in dec.parameters()}
    self_attn = {id(p) for layer in enc.encoder.layer for p in layer.attention.parameters()}
    cross = {id(p) for layer in enc.encoder.layer for p in layer.crossattention.parameters()}
    if strategy == "none":
        assert not shared
    elif strategy == "all":
        assert shared == {id(p) for p in enc.parameters()}
    else:
        assert cross <= shared and not (self_attn & shared)
        assert dec.embeddings is enc.embeddings
    # the state dict keeps both key sets (the released checkpoints' layout)
    assert any(k.startswith("text_decoder.bert.encoder.layer.0.crossattention") for k in model.state_dict())


def test_nlvr_initialises_both_branches_from_single_image_weights() -> None:
    source = load_model("blip_retrieval", "tiny")
    sd = {k: v for k, v in source.state_dict().items() if k.startswith(("visual_encoder.", "text_encoder."))}
    nlvr = load_model("blip_nlvr", "tiny")
    report = nlvr.load_checkpoint(sd, strict=False)
    layer = nlvr.text_encoder.encoder.layer[0].crossattention
    ref = sd["text_encoder.encoder.layer.0.crossattention.self.query.weight"]
    assert torch.equal(layer.self0.query.weight, ref) and torch.equal(layer.self1.query.weight, ref)
    ref_dense = sd["text_encoder.encoder.layer.0.crossattention.output.dense.weight"]
    assert torch.equal(layer.output.dense0.weight, ref_dense) and torch.equal(layer.output.dense1.weight, ref_dense)
    assert not any("crossattention.self." in k for k in report.unexpected_keys)


def test_vqa_rank_equals_brute_force_over_all_answers() -> None:
    model = load_model("blip_vqa", "tiny", is_eval=True)
    answers = ["red", "blue", "two", "three", "a green triangle"]
    samples = {"image": torch.randn(2, 3, 64, 64), "text_input": ["what colour", "how many"]}
    ranked = model.predict_answers(
        samples, inference_method="rank", answer_list=answers, num_ans_candidates=len(answers)
    )
    states, atts = model.encode_question(samples)
    ids, masks = model.tokenize(answers, first_token=30522)
    labels = ids.masked_fill(ids == 0, -100)
    best = []
    for q in range(2):
        logits = model.text_decoder(
            ids,
            masks,
            encoder_hidden_states=states[q : q + 1].expand(len(answers), -1, -1),
            encoder_attention_mask=atts[q : q + 1].expand(len(answers), -1),
        ).logits
        scores = -lm_loss(logits, labels, model.config.label_smoothing, reduction="none")
        best.append(answers[int(scores.argmax())])
    assert ranked == best


@pytest.mark.parametrize("mode", ["hard", "random"])
def test_itm_negatives_hard_follow_similarity_random_are_uniform(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import vlkit.models.blip.contrastive as contrastive

    seen: list[torch.Tensor] = []
    real = contrastive.hard_negative_weights
    monkeypatch.setattr(contrastive, "hard_negative_weights", lambda sim, same: seen.append(sim) or real(sim, same))
    model = load_model("blip_retrieval", "tiny", itm_negatives=mode)
    ids = [0, 0, 1, 2]
    model(_batch(4, ids))
    assert len(seen) == 2
    assert all(bool((s == 0).all()) == (mode == "random") for s in seen)
    neg_text, neg_image = model._last_hard_negatives
    for i, (t, im) in enumerate(zip(neg_text.tolist(), neg_image.tolist(), strict=True)):
        assert ids[t] != ids[i] and ids[im] != ids[i]  # never the positive, in either mode


def test_unknown_itm_negatives_is_rejected_naming_the_key() -> None:
    with pytest.raises(ValueError, match="model.itm_negatives"):
        load_model("blip_retrieval", "tiny", itm_negatives="semi-hard")

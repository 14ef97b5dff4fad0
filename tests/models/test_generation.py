"""vlkit's decoding loop: greedy, beam search and nucleus sampling against brute-force references."""

from __future__ import annotations

import pytest
import torch

from vlkit.models.beam_search import beam_search
from vlkit.models.decoding import Decoder, blip_sampling_defaults
from vlkit.models.generation import GenerationConfig, _warp, generate, sample_next
from vlkit.models.med import MedConfig, MedForCausalLM

BOS, EOS, PAD = 1, 2, 0
TINY = dict(vocab_size=40, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64, encoder_width=24)


def _cfg(**overrides: object) -> GenerationConfig:
    base = dict(num_beams=1, max_length=12, min_length=1, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD)
    return GenerationConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def decoder() -> MedForCausalLM:
    torch.manual_seed(0)
    model = MedForCausalLM(MedConfig(**TINY)).eval()
    with torch.no_grad():  # sharper distributions than the 0.02-std init, and EOS reachable mid-sentence
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(8.0)
        model.cls.predictions.bias[EOS] += 3.0
    return model


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(3, 5, 24, generator=torch.Generator().manual_seed(1))


def _prompt(batch: int = 3) -> torch.Tensor:
    return torch.tensor([[BOS, 5, 6]] * batch)


@torch.no_grad()
def _greedy_by_recompute(model: MedForCausalLM, prompt: torch.Tensor, img: torch.Tensor, cfg: GenerationConfig) -> list:
    """Greedy decoding that re-runs the full sequence every step (no cache), one row at a time."""
    rows = []
    for i in range(prompt.shape[0]):
        seq = prompt[i : i + 1]
        while seq.shape[1] < cfg.max_length:
            logits = model(seq, encoder_hidden_states=img[i : i + 1]).logits[:, -1]
            if seq.shape[1] < cfg.min_length:
                logits[:, cfg.eos_token_id] = float("-inf")
            seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], dim=1)
            if seq[0, -1] == cfg.eos_token_id:
                break
        rows.append(seq[0].tolist())
    return rows


def _strip(rows: list[list[int]]) -> list[list[int]]:
    return [r[: r.index(EOS, 3) + 1] if EOS in r[3:] else r for r in rows]


def test_greedy_with_cache_equals_full_recompute(decoder: MedForCausalLM, images: torch.Tensor) -> None:
    cfg = _cfg(min_length=4)
    got = generate(decoder, _prompt(), images, None, cfg)
    expected = _greedy_by_recompute(decoder, _prompt(), images, cfg)
    assert _strip(got.tolist()) == expected
    assert any(EOS in r for r in expected) and got.shape[1] <= cfg.max_length
    # rows that ended early are padded after EOS
    for row in got.tolist():
        if EOS in row[3:]:
            assert set(row[row.index(EOS, 3) + 1 :]) <= {PAD}


def test_beam_search_with_one_beam_is_greedy(decoder: MedForCausalLM, images: torch.Tensor) -> None:
    cfg = _cfg(min_length=4)
    greedy = generate(decoder, _prompt(), images, None, cfg)
    with torch.no_grad():
        beam = beam_search(Decoder(decoder, images, None, group=1), _prompt(), cfg)
    assert _strip(beam.tolist()) == _strip(greedy.tolist())


def _sequence_logprob(model: MedForCausalLM, seq: list[int], img: torch.Tensor, prompt_len: int) -> float:
    ids = torch.tensor([seq])
    with torch.no_grad():
        logp = model(ids, encoder_hidden_states=img).logits.log_softmax(-1)
    return sum(float(logp[0, t - 1, seq[t]]) for t in range(prompt_len, len(seq)))


def test_beam_search_beats_greedy_and_returns_ranked_beams(decoder: MedForCausalLM, images: torch.Tensor) -> None:
    cfg = _cfg(num_beams=4, num_return_sequences=3, max_length=8, min_length=1, length_penalty=0.0)
    beams = generate(decoder, _prompt(), images, None, cfg)
    greedy = generate(decoder, _prompt(), images, None, _cfg(max_length=8))
    assert beams.shape[0] == 9
    for i in range(3):
        img = images[i : i + 1]
        scores = [_sequence_logprob(decoder, r, img, 3) for r in _strip(beams[3 * i : 3 * i + 3].tolist())]
        assert scores == sorted(scores, reverse=True)  # length_penalty 0: ranked by total log-probability
        assert scores[0] >= _sequence_logprob(decoder, _strip(greedy[i : i + 1].tolist())[0], img, 3) - 1e-5


def test_min_and_max_length(decoder: MedForCausalLM, images: torch.Tensor) -> None:
    for num_beams in (1, 3):
        out = generate(decoder, _prompt(), images, None, _cfg(num_beams=num_beams, min_length=9, max_length=11))
        for row in out.tolist():
            assert EOS not in row[:9]  # EOS may only follow min_length (9) tokens
        assert out.shape[1] <= 11
    with pytest.raises(ValueError, match="max_length"):
        generate(decoder, _prompt(), images, None, _cfg(max_length=3))


def test_repetition_penalty_changes_output(decoder: MedForCausalLM, images: torch.Tensor) -> None:
    cfg = _cfg(min_length=12, max_length=12)
    plain = generate(decoder, _prompt(), images, None, cfg)
    penalised = generate(decoder, _prompt(), images, None, _cfg(min_length=12, max_length=12, repetition_penalty=1e4))
    assert not torch.equal(plain, penalised)
    for row in penalised.tolist():  # with a huge penalty no token is repeated while unseen tokens remain
        assert len(set(row[3:])) == len(row[3:]) and not set(row[3:]) & {BOS, 5, 6}


def test_nucleus_sampling_is_reproducible_and_varied(decoder: MedForCausalLM, images: torch.Tensor) -> None:
    cfg = _cfg(use_nucleus_sampling=True, top_p=0.9, num_return_sequences=4)

    def sample(seed: int) -> torch.Tensor:
        return generate(decoder, _prompt(), images, None, cfg, generator=torch.Generator().manual_seed(seed))

    first = sample(0)
    assert first.shape[0] == 12 and torch.equal(first, sample(0))
    assert not torch.equal(first, sample(1))
    assert len({tuple(r) for r in first[:4].tolist()}) > 1  # several captions of one image differ


@pytest.mark.parametrize("warper", [dict(top_k=1), dict(top_p=1e-6), dict(temperature=1e-4, top_p=1.0)])
def test_degenerate_sampling_is_greedy(decoder: MedForCausalLM, images: torch.Tensor, warper: dict) -> None:
    greedy = generate(decoder, _prompt(), images, None, _cfg(min_length=4))
    sampled = generate(
        decoder,
        _prompt(),
        images,
        None,
        _cfg(min_length=4, use_nucleus_sampling=True, **warper),
        generator=torch.Generator().manual_seed(0),
    )
    assert _strip(sampled.tolist()) == _strip(greedy.tolist())


def test_warp_top_k_and_top_p() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = lambda **kw: torch.isfinite(_warp(logits, _cfg(**kw))).tolist()[0]  # noqa: E731
    assert kept(top_k=2, top_p=1.0) == [True, True, False, False]
    assert kept(top_p=0.7) == [True, True, False, False]  # smallest set with mass >= 0.7
    assert kept(top_p=0.9) == [True, True, True, False]
    assert kept(top_p=1.0) == [True] * 4
    # transformers 4.15 (the original BLIP's sampler) keeps a token whose preceding mass equals top_p exactly;
    # the ascending rule of later releases drops it
    tie = torch.tensor([[0.0, -1.0, -1.5, -4.0]])
    cum = tie.softmax(dim=-1).cumsum(dim=-1)
    assert torch.isfinite(_warp(tie, _cfg(top_p=float(cum[0, 1])))).tolist()[0] == [True, True, True, False]


def test_blip_sampling_defaults() -> None:
    assert blip_sampling_defaults(True, None, None) == (50, 1.1)  # transformers' top-k, BLIP's penalty
    assert blip_sampling_defaults(False, None, None) == (0, 1.0)
    assert blip_sampling_defaults(True, 0, 1.0) == (0, 1.0)  # explicit values win


def test_image_keys_and_values_are_computed_once_per_image(decoder: MedForCausalLM, images: torch.Tensor) -> None:
    rows_seen = []
    hook = decoder.bert.encoder.layer[0].crossattention.self.key.register_forward_hook(
        lambda _m, inputs, _o: rows_seen.append(inputs[0].shape[0])
    )
    try:
        generate(decoder, _prompt(), images, None, _cfg(num_beams=3, min_length=6, max_length=10))
    finally:
        hook.remove()
    assert rows_seen == [3]  # one projection for the 3 images, not one per step or per beam


def test_num_return_sequences_validation(decoder: MedForCausalLM, images: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="num_beams"):
        generate(decoder, _prompt(), images, None, _cfg(num_beams=2, num_return_sequences=3))
    out = generate(decoder, _prompt(), images, None, _cfg(num_beams=3, num_return_sequences=2))
    assert out.shape[0] == 6 and (out[:, :3] == _prompt(1)).all()


def test_sampling_draws_from_the_warped_distribution() -> None:
    """The top-k shortcut (draw among the k best) samples what the full-vocabulary warp defines."""
    logits = torch.log(torch.tensor([[0.05, 0.4, 0.02, 0.25, 0.2, 0.08]])).expand(40_000, -1)
    for kw in (dict(top_k=3, top_p=1.0), dict(top_k=4, top_p=0.7), dict(top_k=0, top_p=0.9), dict(top_k=5, top_p=0.8)):
        cfg = _cfg(use_nucleus_sampling=True, **kw)
        drawn = sample_next(logits, cfg, torch.Generator().manual_seed(0))
        freq = torch.bincount(drawn, minlength=6).float() / len(drawn)
        torch.testing.assert_close(freq, _warp(logits[:1], cfg).softmax(dim=-1)[0], atol=0.01, rtol=0)

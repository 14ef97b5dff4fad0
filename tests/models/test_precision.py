"""Half-precision inference: ``load_model(..., dtype=...)`` on CPU in bfloat16 stays close to float32, and
generation (beam, nucleus), ITM/ITC scoring and ranking, and VQA run in it. Bounds are the gaps measured by
benchmarks/bench_precision.py on these tiny models (docs/models.md, "Half precision") with headroom."""

from __future__ import annotations

import pytest
import torch

from vlkit.models import UnsupportedDtypeError, load_model, load_model_and_preprocess
from vlkit.models import precision as prec

ITC_TOL = 0.03  # max |cosine gap|; measured 0.008 (bf16, tiny)
ITM_TOL = 0.02  # max match-probability gap; measured 0.004
LOGP_TOL = 0.15  # max gap of a scored token's log-probability; measured 0.04
TEXTS = ["a red circle", "two green triangles", "a blue square on grey", "a yellow star", "a dog on a beach"]


def _pair(name: str, dtype: str = "bfloat16", **kw: object) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    full = load_model(name, "tiny", pretrained=False, is_eval=True, **kw)
    torch.manual_seed(0)
    return full, load_model(name, "tiny", pretrained=False, is_eval=True, dtype=dtype, **kw)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """Six distinguishable images: flat levels from dark to bright plus a little noise."""
    gen = torch.Generator().manual_seed(1)
    return torch.linspace(-2, 2, 6)[:, None, None, None].expand(6, 3, 64, 64) + 0.1 * torch.randn(
        6, 3, 64, 64, generator=gen
    )


@pytest.mark.parametrize(
    "given,expected",
    [
        ("bfloat16", torch.bfloat16),
        ("bf16", torch.bfloat16),
        ("float16", torch.float16),
        ("fp16", torch.float16),
        ("torch.float16", torch.float16),
        ("FLOAT32", torch.float32),
        (torch.bfloat16, torch.bfloat16),
    ],
)
def test_resolve_dtype(given: object, expected: torch.dtype) -> None:
    assert prec.resolve_dtype(given) is expected


@pytest.mark.parametrize("bad", ["bfloat", "int8", torch.int8, torch.float64, 16])
def test_unknown_dtype_is_refused_with_the_choices(bad: object) -> None:
    with pytest.raises(UnsupportedDtypeError, match="bfloat16.*float16"):
        load_model("blip_caption", "tiny", pretrained=False, dtype=bad)


def test_dtype_the_device_cannot_run_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # as older PyTorch CPUs had no half-precision matmul: the kernel itself raises
    def missing_kernel(*args: object, **kwargs: object) -> None:
        raise RuntimeError("\"addmm_impl_cpu_\" not implemented for 'Half'")

    prec._probe.cache_clear()
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", missing_kernel)
    try:
        with pytest.raises(UnsupportedDtypeError) as info:
            load_model("blip_caption", "tiny", pretrained=False, dtype="float16", device="cpu")
    finally:
        prec._probe.cache_clear()
    msg = str(info.value)
    assert "dtype=float16 cannot run on device cpu" in msg and "not implemented for 'Half'" in msg
    assert "dtype='float32'" in msg


def test_weights_are_cast_and_processors_still_feed_them() -> None:
    model, vis, _ = load_model_and_preprocess("blip_caption", "tiny", is_eval=True, pretrained=False, dtype="bf16")
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert model.text_decoder.bert.embeddings.position_ids.dtype == torch.long  # integer buffers untouched
    from PIL import Image

    image = vis["eval"](Image.new("RGB", (80, 60), (200, 30, 30)))[None]  # float32 from the processor
    assert isinstance(model.generate({"image": image}, num_beams=2, max_length=8, min_length=2)[0], str)


@torch.no_grad()
def test_itc_itm_close_to_fp32_and_ranking_agrees(images: torch.Tensor) -> None:
    full, half = _pair("blip_image_text_matching")
    sims = full.match({"image": images, "text_input": TEXTS[:5]}, match_head="itc").float()
    sims_h = half.match({"image": images, "text_input": TEXTS[:5]}, match_head="itc").float()
    assert (sims - sims_h).abs().max() < ITC_TOL
    pairs = {"image": images[:5], "text_input": TEXTS[:5]}
    prob = full.match(pairs, match_head="itm").float().softmax(-1)[:, 1]
    prob_h = half.match(pairs, match_head="itm").float().softmax(-1)[:, 1]
    assert torch.isfinite(prob_h).all() and (prob - prob_h).abs().max() < ITM_TOL
    # text->image ranking: every order of two images that float32 separates by more than twice the gap is kept
    by_text, by_text_h = sims.t(), sims_h.t()
    clear = (by_text[:, :, None] - by_text[:, None, :]) > 2 * (sims - sims_h).abs().max()
    kept = (by_text_h[:, :, None] - by_text_h[:, None, :]) > 0
    assert clear.sum() >= 40, "the check must cover most of the 5 x 15 image pairs"
    assert kept[clear].all()


@torch.no_grad()
def test_caption_logprobs_close_and_generation_runs(images: torch.Tensor) -> None:
    full, half = _pair("blip_caption")
    for model in (full, half):
        with torch.no_grad():  # peaked, as trained decoders are: [SEP] and a few words likely
            model.text_decoder.cls.predictions.bias[[102, 1037, 2417, 4418]] += 6.0
    ids, atts = full.tokenize(TEXTS[:4], first_token=full.tokenizer.dec_token_id)

    def logp(model: torch.nn.Module) -> torch.Tensor:
        out = model.text_decoder(ids, atts, encoder_hidden_states=model.encode_image(images[:4])).logits.float()
        return out[:, :-1].log_softmax(-1).gather(-1, ids[:, 1:, None]).squeeze(-1)[atts[:, 1:].bool()]

    assert (logp(full) - logp(half)).abs().max() < LOGP_TOL
    beam = {"num_beams": 3, "max_length": 12, "min_length": 3}
    assert half.generate({"image": images}, **beam) == full.generate({"image": images}, **beam)
    samples = []
    for model in (full, half):
        torch.manual_seed(0)
        samples.append(model.generate({"image": images}, use_nucleus_sampling=True, max_length=12, min_length=3))
    assert all(isinstance(s, str) and s for s in samples[1])
    assert sum(a == b for a, b in zip(*samples)) >= len(images) // 2  # same seed: mostly the same draws


@torch.no_grad()
def test_vqa_rank_and_generate_in_bf16(images: torch.Tensor) -> None:
    full, half = _pair("blip_vqa")
    q = {"image": images, "text_input": ["what colour is it"] * len(images)}
    answers = ["red", "blue", "green", "two", "yes", "no"]
    rank = {"inference_method": "rank", "answer_list": answers, "num_ans_candidates": 3}
    got = half.predict_answers(q, **rank)
    assert set(got) <= set(answers)
    assert all(isinstance(a, str) for a in half.predict_answers(q, inference_method="generate"))


def test_float16_on_this_cpu_runs_or_says_why(images: torch.Tensor) -> None:
    error = prec._probe(torch.float16, "cpu")
    if error is not None:
        with pytest.raises(UnsupportedDtypeError, match="float16 cannot run on device cpu"):
            load_model("blip_image_text_matching", "tiny", pretrained=False, dtype="float16")
        return
    full, half = _pair("blip_image_text_matching", dtype="float16")
    sims = full.match({"image": images, "text_input": TEXTS}, match_head="itc").float()
    sims_h = half.match({"image": images, "text_input": TEXTS}, match_head="itc").float()
    assert (sims - sims_h).abs().max() < ITC_TOL

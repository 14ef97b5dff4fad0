"""The two beam-search length normalisations on a decoder whose probabilities are written by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from vlkit.models.beam_search import beam_search
from vlkit.models.decoding import GenerationConfig

PAD, BOS, EOS, A, B, C, D, E = 0, 1, 2, 3, 4, 5, 6, 7
VOCAB = 40
PROMPT = [BOS, C, C, C]  # four prompt tokens, like "[DEC] a picture of"


class MarkovDecoder:
    """Next-token probabilities depend on the last token only (so the cache needs no reordering).

    After the prompt: A 0.6, B 0.35. ``A EOS`` has total log-probability -1.0; ``B D E EOS`` has -1.6.
    Every other continuation spreads its leftover mass over all tokens, so other paths fall far behind.
    """

    def __init__(self) -> None:
        chain = math.exp((-1.6 - math.log(0.35)) / 3)  # B -> D -> E -> EOS, each step with this probability
        table = {C: {A: 0.6, B: 0.35}, A: {EOS: math.exp(-1.0) / 0.6}, B: {D: chain}, D: {E: chain}, E: {EOS: chain}}
        probs = torch.full((VOCAB, VOCAB), 1.0 / VOCAB, dtype=torch.float64)
        for last, nxt in table.items():
            rest = (1.0 - sum(nxt.values())) / (VOCAB - len(nxt))
            probs[last] = rest
            for token, p in nxt.items():
                probs[last, token] = p
        self.log_probs = probs.log().float()
        self.cache = SimpleNamespace(reorder=lambda index: None)

    def step(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.log_probs[input_ids[:, -1]]


def _search(length_normalization: str, num_return_sequences: int = 1, prompt: list[int] = PROMPT) -> list[list[int]]:
    cfg = GenerationConfig(
        num_beams=2,
        max_length=len(prompt) + 8,
        min_length=0,
        num_return_sequences=num_return_sequences,
        length_normalization=length_normalization,
        bos_token_id=BOS,
        eos_token_id=EOS,
        pad_token_id=PAD,
    )
    out = beam_search(MarkovDecoder(), torch.tensor([prompt] * cfg.num_beams), cfg)
    return [[t for t in row[len(prompt) :] if t != PAD] for row in out.tolist()]


def test_full_and_generated_normalisation_pick_different_captions() -> None:
    # full (transformers 4.15): the length before EOS, prompt included: A EOS -1.0/5 = -0.200 beats
    #   B D E EOS -1.6/7 = -0.229, and the search stops there (worst kept -0.229 >= best candidate -1.6/7).
    # generated (transformers 5): the generated length, EOS included: -1.0/2 = -0.5 loses to -1.6/4 = -0.4.
    assert _search("full") == [[A, EOS]]
    assert _search("generated") == [[B, D, E, EOS]]
    assert _search("full", num_return_sequences=2) == [[A, EOS], [B, D, E, EOS]]
    assert _search("generated", num_return_sequences=2) == [[B, D, E, EOS], [A, EOS]]


def test_with_a_one_token_prompt_finished_beams_score_alike() -> None:
    # VQA starts from [DEC] alone: both rules divide by the same length (full: [DEC] A = 2, generated: A EOS = 2)
    prompt = [C]
    assert _search("full", 2, prompt) == _search("generated", 2, prompt) == [[B, D, E, EOS], [A, EOS]]


def test_unknown_length_normalization_is_a_config_error() -> None:
    from vlkit.common.config import ConfigError

    with pytest.raises(ConfigError, match=r"length_normalization must be one of full, generated, got 'prompt'"):
        GenerationConfig(length_normalization="prompt")

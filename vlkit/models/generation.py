"""Text generation for the MED decoder: greedy, beam search and nucleus sampling, with a KV cache.

This loop is vlkit's own (it does not call transformers' ``GenerationMixin``, whose internals changed
under LAVIS with every release). By default it reproduces transformers 4.15, which the original BLIP code
ran on (beam search: :mod:`vlkit.models.beam_search`; sampling: top-k, then top-p keeping the token that
crosses ``top_p``); ``length_normalization="generated"`` gives transformers 5's beam search instead.
Cross-attention keys/values are computed once per image and shared by its beams or samples.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from vlkit.models.beam_search import beam_search
from vlkit.models.decoding import Decoder, GenerationConfig, apply_penalties
from vlkit.models.med import MedForCausalLM

__all__ = ["GenerationConfig", "generate"]


def _warp(logits: torch.Tensor, cfg: GenerationConfig) -> torch.Tensor:
    """Temperature, top-k and top-p (nucleus) filtering before sampling."""
    if cfg.temperature != 1.0:
        logits = logits / cfg.temperature
    if cfg.top_k > 0:
        kth = torch.topk(logits, min(cfg.top_k, logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p < 1.0:
        # transformers 4.15's rule: keep the most likely tokens up to and including the one whose cumulative
        # probability first exceeds top_p (newer releases sum in ascending order and drop it on a tie)
        sorted_logits, order = torch.sort(logits, descending=True)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove = torch.zeros_like(cum, dtype=torch.bool)
        remove[:, 1:] = cum[:, :-1] > cfg.top_p
        logits = logits.masked_fill(remove.scatter(1, order, remove), float("-inf"))
    return logits


def sample_next(scores: torch.Tensor, cfg: GenerationConfig, generator: torch.Generator | None) -> torch.Tensor:
    """One token per row drawn from the warped distribution (:func:`_warp`).

    With top-k on, only the ``k`` best tokens can be drawn, so the temperature, top-p and the draw run on those
    ``k`` (sorted once by ``topk``) instead of sorting and sampling the whole 30,524-word vocabulary: the same
    distribution (up to ties at the k-th logit, which the full-vocabulary rule keeps), at a fraction of the cost
    (CapFilt's nucleus captioning spent 60 % of its time there).
    """
    k = cfg.top_k
    if 0 < k < scores.shape[-1]:
        top, index = torch.topk(scores, k)
        probs = _warp(top, replace(cfg, top_k=0)).softmax(dim=-1)
        return index.gather(1, torch.multinomial(probs, 1, generator=generator)).squeeze(1)
    return torch.multinomial(_warp(scores, cfg).softmax(dim=-1), 1, generator=generator).squeeze(1)


def _greedy_or_sample(
    dec: Decoder, prompt: torch.Tensor, cfg: GenerationConfig, sample: bool, generator: torch.Generator | None
) -> torch.Tensor:
    seqs = prompt
    logits = dec.step(prompt)
    finished = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    while True:
        scores = apply_penalties(logits, seqs, cfg)
        if sample:
            nxt = sample_next(scores, cfg, generator)
        else:
            nxt = scores.argmax(dim=-1)
        nxt = torch.where(finished, torch.full_like(nxt, cfg.pad_token_id), nxt)
        seqs = torch.cat([seqs, nxt[:, None]], dim=1)
        finished |= nxt == cfg.eos_token_id
        if bool(finished.all()) or seqs.shape[1] >= cfg.max_length:
            return seqs
        logits = dec.step(nxt[:, None])


@torch.no_grad()
def generate(
    decoder: MedForCausalLM,
    prompt_ids: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    encoder_attention_mask: torch.Tensor | None,
    cfg: GenerationConfig,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Generate token ids for each image.

    Args:
        decoder: The image-grounded text decoder.
        prompt_ids: ``[B, P]`` prompt tokens starting with ``[DEC]`` (same length for every row).
        encoder_hidden_states: image features ``[B, N, D]``.
        encoder_attention_mask: ``[B, N]`` or None.
        cfg: Decoding settings (greedy when ``num_beams == 1`` and not sampling).
        generator: RNG for nucleus sampling (reproducible captions).

    Returns:
        ``[B * num_return_sequences, L]`` ids including the prompt, padded with ``pad_token_id`` after EOS;
        rows of one image are consecutive.
    """
    cfg = cfg.resolved()
    if cfg.max_length <= prompt_ids.shape[1]:
        raise ValueError(f"max_length ({cfg.max_length}) must exceed the prompt length ({prompt_ids.shape[1]}).")
    sample = cfg.use_nucleus_sampling
    if not sample and cfg.num_return_sequences > cfg.num_beams:
        raise ValueError("num_return_sequences (num_captions) cannot exceed num_beams for beam search.")
    group = cfg.num_return_sequences if sample else cfg.num_beams
    prompt = prompt_ids.repeat_interleave(group, dim=0)
    dec = Decoder(decoder, encoder_hidden_states, encoder_attention_mask, group)
    if sample or cfg.num_beams == 1:
        return _greedy_or_sample(dec, prompt, cfg, sample, generator)
    return beam_search(dec, prompt, cfg)

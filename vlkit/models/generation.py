"""Text generation for the MED decoder: greedy, beam search and nucleus sampling, with a KV cache.

This loop is vlkit's own (it does not call transformers' ``GenerationMixin``, whose internals changed
under LAVIS with every release). Beam search follows transformers' default semantics (length penalty
on the generated length, ``early_stopping=False`` heuristic), so both give identical tokens.
Cross-attention keys/values are computed once per image and shared by its beams or samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vlkit.models.med import MedCache, MedForCausalLM


@dataclass
class GenerationConfig:
    """Decoding settings; lengths count the prompt tokens (as transformers does)."""

    num_beams: int = 3
    max_length: int = 30
    min_length: int = 10
    use_nucleus_sampling: bool = False
    top_p: float = 0.9
    top_k: int = 0
    temperature: float = 1.0
    repetition_penalty: float = 1.0
    num_return_sequences: int = 1
    length_penalty: float = 1.0
    bos_token_id: int = 30522
    eos_token_id: int = 102
    pad_token_id: int = 0


class _Decoder:
    """Runs the decoder one step at a time, keeping the cache (rows grouped per image)."""

    def __init__(
        self, model: MedForCausalLM, image_embeds: torch.Tensor, image_atts: torch.Tensor | None, group: int
    ) -> None:
        self.model, self.image_embeds, self.group = model, image_embeds, group
        self.image_atts = None if image_atts is None or bool(image_atts.all()) else image_atts
        self.cache: MedCache | None = None

    def step(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Feed the new tokens ``input_ids`` ``[rows, L]``; returns the last position's logits (fp32)."""
        out = self.model(
            input_ids,
            encoder_hidden_states=self.image_embeds,
            encoder_attention_mask=self.image_atts,
            past_key_values=self.cache,
            use_cache=True,
        )
        self.cache = out.past_key_values
        return out.logits[:, -1].float()


def _apply_penalties(scores: torch.Tensor, seqs: torch.Tensor, cfg: GenerationConfig) -> torch.Tensor:
    """Repetition penalty and min-length EOS suppression (on logits or log-probs alike)."""
    if cfg.repetition_penalty != 1.0:
        prev = torch.gather(scores, 1, seqs)
        prev = torch.where(prev < 0, prev * cfg.repetition_penalty, prev / cfg.repetition_penalty)
        scores = scores.scatter(1, seqs, prev)
    if seqs.shape[1] < cfg.min_length:
        scores[:, cfg.eos_token_id] = float("-inf")
    return scores


def _warp(logits: torch.Tensor, cfg: GenerationConfig) -> torch.Tensor:
    """Temperature, top-k and top-p (nucleus) filtering before sampling."""
    if cfg.temperature != 1.0:
        logits = logits / cfg.temperature
    if cfg.top_k > 0:
        kth = torch.topk(logits, min(cfg.top_k, logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=False)
        cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        remove = cum <= (1 - cfg.top_p)
        remove[:, -1] = False  # always keep the most likely token
        logits = logits.masked_fill(remove.scatter(1, order, remove), float("-inf"))
    return logits


def _greedy_or_sample(
    dec: _Decoder, prompt: torch.Tensor, cfg: GenerationConfig, sample: bool, generator: torch.Generator | None
) -> torch.Tensor:
    seqs = prompt
    logits = dec.step(prompt)
    finished = torch.zeros(prompt.shape[0], dtype=torch.bool, device=prompt.device)
    while True:
        scores = _apply_penalties(logits, seqs, cfg)
        if sample:
            probs = _warp(scores, cfg).softmax(dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        else:
            nxt = scores.argmax(dim=-1)
        nxt = torch.where(finished, torch.full_like(nxt, cfg.pad_token_id), nxt)
        seqs = torch.cat([seqs, nxt[:, None]], dim=1)
        finished |= nxt == cfg.eos_token_id
        if bool(finished.all()) or seqs.shape[1] >= cfg.max_length:
            return seqs
        logits = dec.step(nxt[:, None])


def _beam_search(dec: _Decoder, prompt: torch.Tensor, cfg: GenerationConfig) -> torch.Tensor:
    """Vectorised beam search over ``[B, beams]`` with transformers' default finishing rules."""
    rows, prompt_len = prompt.shape
    beams = cfg.num_beams
    batch = rows // beams
    device = prompt.device
    keep = 2 * beams  # candidates per step: enough to refill every beam even if half of them end
    running = torch.full((batch, beams, cfg.max_length), cfg.pad_token_id, dtype=torch.long, device=device)
    running[:, :, :prompt_len] = prompt.view(batch, beams, prompt_len)
    running_scores = torch.zeros(batch, beams, device=device)
    running_scores[:, 1:] = -1e9  # all beams start identical: only the first may expand at step one
    done = running.clone()
    done_scores = torch.full((batch, beams), -1e9, device=device)
    done_flag = torch.zeros(batch, beams, dtype=torch.bool, device=device)
    done_len = torch.full((batch, beams), prompt_len, dtype=torch.long, device=device)
    improvable = torch.ones(batch, 1, dtype=torch.bool, device=device)
    top_mask = torch.arange(keep, device=device) < beams
    cur = prompt_len
    logits = dec.step(prompt)
    while True:
        seqs = running[:, :, :cur].reshape(rows, cur)
        logp = _apply_penalties(logits.log_softmax(dim=-1), seqs, cfg)
        vocab = logp.shape[-1]
        cand = (logp.view(batch, beams, vocab) + running_scores[:, :, None]).view(batch, beams * vocab)
        top_scores, top_idx = torch.topk(cand, keep)
        src_beam, token = top_idx // vocab, top_idx % vocab
        cand_seqs = torch.gather(running, 1, src_beam[:, :, None].expand(-1, -1, cfg.max_length)).clone()
        cand_seqs[:, :, cur] = token
        ends = (token == cfg.eos_token_id) | (cur + 1 >= cfg.max_length)
        # next running beams: the best candidates that did not end
        live_scores = top_scores - ends.float() * 1e9
        pick = torch.topk(live_scores, beams).indices
        running = torch.gather(cand_seqs, 1, pick[:, :, None].expand(-1, -1, cfg.max_length))
        running_scores = torch.gather(live_scores, 1, pick)
        reorder = torch.gather(src_beam, 1, pick) + torch.arange(batch, device=device)[:, None] * beams
        # finished hypotheses: candidates among the top `beams` that ended, normalised by generated length
        fin_scores = top_scores / float(cur + 1 - prompt_len) ** cfg.length_penalty
        fin_scores = fin_scores - (~improvable).float() * 1e9 - (~(ends & top_mask)).float() * 1e9
        all_seqs = torch.cat([done, cand_seqs], dim=1)
        all_scores = torch.cat([done_scores, fin_scores], dim=1)
        all_flags = torch.cat([done_flag, ends & top_mask], dim=1)
        all_lens = torch.cat([done_len, torch.full_like(done_len.repeat(1, 2), cur + 1)], dim=1)
        best = torch.topk(all_scores, beams).indices
        done = torch.gather(all_seqs, 1, best[:, :, None].expand(-1, -1, cfg.max_length))
        done_scores = torch.gather(all_scores, 1, best)
        done_flag = torch.gather(all_flags, 1, best)
        done_len = torch.gather(all_lens, 1, best)
        cur += 1
        # transformers' early_stopping=False heuristic: stop once no running beam can beat the worst finished one
        best_running = running_scores[:, :1] / float(cur - prompt_len) ** cfg.length_penalty
        worst_done = torch.where(
            done_flag, done_scores.min(dim=1, keepdim=True).values, torch.full_like(best_running, -1e9)
        )
        improvable = improvable & (best_running > worst_done).any(dim=-1, keepdim=True)
        if not bool(improvable.any()) or bool(ends.all()):
            break
        dec.cache.reorder(reorder.view(-1))
        logits = dec.step(running[:, :, cur - 1].reshape(rows, 1))
    n = cfg.num_return_sequences
    out = done[:, :n].reshape(batch * n, cfg.max_length)
    lens = done_len[:, :n].reshape(-1)
    out = out[:, : int(lens.max())].clone()
    out[torch.arange(out.shape[1], device=device)[None, :] >= lens[:, None]] = cfg.pad_token_id
    return out


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
    if cfg.max_length <= prompt_ids.shape[1]:
        raise ValueError(f"max_length ({cfg.max_length}) must exceed the prompt length ({prompt_ids.shape[1]}).")
    sample = cfg.use_nucleus_sampling
    if not sample and cfg.num_return_sequences > cfg.num_beams:
        raise ValueError("num_return_sequences (num_captions) cannot exceed num_beams for beam search.")
    group = cfg.num_return_sequences if sample else cfg.num_beams
    prompt = prompt_ids.repeat_interleave(group, dim=0)
    dec = _Decoder(decoder, encoder_hidden_states, encoder_attention_mask, group)
    if sample or cfg.num_beams == 1:
        return _greedy_or_sample(dec, prompt, cfg, sample, generator)
    return _beam_search(dec, prompt, cfg)

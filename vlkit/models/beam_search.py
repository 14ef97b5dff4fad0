"""Vectorised beam search for the MED decoder, with the two length normalisations BLIP results depend on.

Each step keeps the ``2 * num_beams`` best candidates per image; candidates ending with EOS among the first
``num_beams`` become finished hypotheses (at most ``num_beams`` kept per image, the best by normalised score),
the best ``num_beams`` others continue. Where the two rules differ:

``full`` — transformers 4.15, on which the original BLIP code produced the paper's numbers (the default):
  * a hypothesis finished by EOS scores ``sum_logprobs / L ** length_penalty`` with ``L`` the whole sequence
    before the EOS, prompt included (``[DEC] a picture of`` for captions);
  * an image is done once it holds ``num_beams`` finished hypotheses and the worst of them scores at least
    the step's best candidate (EOS ones included) divided by the length before this step;
  * at ``max_length`` the open beams of images not done are finished with ``L = max_length``.
``generated`` — transformers 5: ``L`` is the generated length, EOS included; an image stops taking
  hypotheses once its best open beam, normalised by the generated length, cannot beat its worst finished one;
  at ``max_length`` the candidates among the first ``num_beams`` finish.

With a one-token prompt (VQA's ``[DEC]``) both rules use the same ``L`` for EOS endings and differ only in
the stopping test and at ``max_length``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vlkit.models.decoding import Decoder, GenerationConfig, apply_penalties


@dataclass
class FinishedHypotheses:
    """The best ``num_beams`` finished hypotheses per image: ``[B, beams, max_length]`` ids, float64 scores."""

    seqs: torch.Tensor
    scores: torch.Tensor
    filled: torch.Tensor  # whether a slot holds a hypothesis
    lengths: torch.Tensor

    @classmethod
    def empty(cls, batch: int, beams: int, template: torch.Tensor, prompt_len: int) -> FinishedHypotheses:
        device = template.device
        return cls(
            seqs=template.clone(),
            scores=torch.full((batch, beams), float("-inf"), dtype=torch.float64, device=device),
            filled=torch.zeros(batch, beams, dtype=torch.bool, device=device),
            lengths=torch.full((batch, beams), prompt_len, dtype=torch.long, device=device),
        )

    def add(self, seqs: torch.Tensor, scores: torch.Tensor, accept: torch.Tensor, length: int) -> None:
        """Offer ``seqs`` ``[B, n, T]`` of ``length`` tokens with normalised ``scores``; only ``accept`` ones."""
        beams = self.scores.shape[1]
        all_scores = torch.cat([self.scores, torch.where(accept, scores, float("-inf"))], dim=1)
        best = torch.topk(all_scores, beams).indices
        pick = lambda t: torch.gather(t, 1, best)  # noqa: E731
        self.seqs = torch.gather(torch.cat([self.seqs, seqs], dim=1), 1, best[:, :, None].expand(-1, -1, seqs.shape[2]))
        self.scores = pick(all_scores)
        self.filled = pick(torch.cat([self.filled, accept], dim=1))
        self.lengths = pick(torch.cat([self.lengths, torch.full_like(accept, length, dtype=torch.long)], dim=1))

    def full_and_worst(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, 1]``: whether all ``num_beams`` slots are filled, and the worst score held."""
        return self.filled.all(dim=1, keepdim=True), self.scores.min(dim=1, keepdim=True).values


def _normalised(sum_logprobs: torch.Tensor, length: int, cfg: GenerationConfig) -> torch.Tensor:
    if cfg.length_normalization == "full":  # transformers 4.15 divided Python floats: float64
        return sum_logprobs.double() / float(length) ** cfg.length_penalty
    return (sum_logprobs / float(length) ** cfg.length_penalty).double()


def beam_search(dec: Decoder, prompt: torch.Tensor, cfg: GenerationConfig) -> torch.Tensor:
    """Beam search from ``prompt`` ``[B * beams, P]`` (each image's rows repeated); returns finished ids."""
    rows, prompt_len = prompt.shape
    beams = cfg.num_beams
    batch = rows // beams
    device = prompt.device
    full_rule = cfg.length_normalization == "full"
    keep = 2 * beams  # candidates per step: enough to refill every beam even if half of them end
    running = torch.full((batch, beams, cfg.max_length), cfg.pad_token_id, dtype=torch.long, device=device)
    running[:, :, :prompt_len] = prompt.view(batch, beams, prompt_len)
    running_scores = torch.zeros(batch, beams, device=device)
    running_scores[:, 1:] = -1e9  # all beams start identical: only the first may expand at step one
    finished = FinishedHypotheses.empty(batch, beams, running, prompt_len)
    open_ = torch.ones(batch, 1, dtype=torch.bool, device=device)  # images still taking hypotheses
    top_ranks = torch.arange(keep, device=device) < beams
    cur = prompt_len
    logits = dec.step(prompt)
    while True:
        seqs = running[:, :, :cur].reshape(rows, cur)
        logp = apply_penalties(logits.log_softmax(dim=-1), seqs, cfg)
        vocab = logp.shape[-1]
        cand = (logp.view(batch, beams, vocab) + running_scores[:, :, None]).view(batch, beams * vocab)
        top_scores, top_idx = torch.topk(cand, keep)
        src_beam, token = top_idx // vocab, top_idx % vocab
        cand_seqs = torch.gather(running, 1, src_beam[:, :, None].expand(-1, -1, cfg.max_length)).clone()
        cand_seqs[:, :, cur] = token
        eos = token == cfg.eos_token_id
        last = cur + 1 >= cfg.max_length
        # the next open beams: the best candidates that did not emit EOS
        live_scores = top_scores - eos.float() * 1e9
        pick = torch.topk(live_scores, beams).indices
        running = torch.gather(cand_seqs, 1, pick[:, :, None].expand(-1, -1, cfg.max_length))
        running_scores = torch.gather(live_scores, 1, pick)
        reorder = torch.gather(src_beam, 1, pick) + torch.arange(batch, device=device)[:, None] * beams
        if full_rule:
            # the hypothesis is the sequence before its EOS; the EOS is still returned (4.15 appends it)
            finished.add(cand_seqs, _normalised(top_scores, cur, cfg), eos & top_ranks & open_, cur + 1)
            is_full, worst = finished.full_and_worst()
            open_ = open_ & ~(is_full & (worst >= _normalised(top_scores[:, :1], cur, cfg)))
            if last:
                finished.add(running, _normalised(running_scores, cur + 1, cfg), open_.expand(-1, beams), cur + 1)
        else:
            generated = cur + 1 - prompt_len
            ends = eos | last
            finished.add(cand_seqs, _normalised(top_scores, generated, cfg), ends & top_ranks & open_, cur + 1)
            is_full, worst = finished.full_and_worst()
            open_ = open_ & (~is_full | (_normalised(running_scores[:, :1], generated, cfg) > worst))
        cur += 1
        if last or not bool(open_.any()):
            break
        dec.cache.reorder(reorder.view(-1))
        logits = dec.step(running[:, :, cur - 1].reshape(rows, 1))
    n = cfg.num_return_sequences
    out = finished.seqs[:, :n].reshape(batch * n, cfg.max_length)
    lens = finished.lengths[:, :n].reshape(-1)
    out = out[:, : int(lens.max())].clone()
    out[torch.arange(out.shape[1], device=device)[None, :] >= lens[:, None]] = cfg.pad_token_id
    return out

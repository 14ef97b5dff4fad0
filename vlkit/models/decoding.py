"""What every decoding strategy shares: the settings, one cached decoder step, and the logits processors.

The processors follow transformers 4.15, which the original BLIP code ran on: the repetition penalty, then
the ``min_length`` EOS ban, applied to log-probabilities in beam search and to raw logits when sampling.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace

import torch
from omegaconf import DictConfig, OmegaConf

from vlkit.common.config import ConfigError
from vlkit.models.med import MedCache, MedForCausalLM

LENGTH_NORMALIZATIONS: tuple[str, ...] = ("full", "generated")
# the original BLIP code sampled with transformers' default top-k and a hard-coded repetition penalty
BLIP_SAMPLING_TOP_K = 50
BLIP_SAMPLING_REPETITION_PENALTY = 1.1


def check_length_normalization(value: object, key: str = "length_normalization", source: str = "") -> str:
    """Return ``value`` if it names a beam-search length normalisation, else raise a ``ConfigError``.

    Args:
        value: The configured value.
        key: The config key to name in the error (e.g. ``run.length_normalization``).
        source: The file the value came from, if any.
    """
    if value not in LENGTH_NORMALIZATIONS:
        where = f"{source}: " if source else ""
        raise ConfigError(
            f"{where}{key} must be one of {', '.join(LENGTH_NORMALIZATIONS)}, got {value!r}. 'full' divides a "
            "finished beam's log-probability by the whole sequence's length, prompt included (the original BLIP "
            "code on transformers 4.15); 'generated' by the generated length only (transformers >= 4.37)."
        )
    return str(value)


def blip_sampling_defaults(
    use_nucleus_sampling: bool, top_k: int | None, repetition_penalty: float | None
) -> tuple[int, float]:
    """``(top_k, repetition_penalty)`` with ``None`` replaced by what the original BLIP code used.

    Nucleus sampling: top-k 50 (transformers' default, applied before top-p) and a repetition penalty of 1.1;
    beam search and greedy decoding: no top-k and no penalty.
    """
    if top_k is None:
        top_k = BLIP_SAMPLING_TOP_K if use_nucleus_sampling else 0
    if repetition_penalty is None:
        repetition_penalty = BLIP_SAMPLING_REPETITION_PENALTY if use_nucleus_sampling else 1.0
    return int(top_k), float(repetition_penalty)


@dataclass
class GenerationConfig:
    """Decoding settings, the one type for every place that generates text; lengths count the prompt tokens.

    Config sections nest it under ``generation`` (caption and VQA evaluation) or ``decoding`` (CapFilt).
    ``length_normalization`` chooses how beam search ranks finished hypotheses (``full``: transformers 4.15,
    the original BLIP code, the default; ``generated``: transformers 5); see :mod:`vlkit.models.beam_search`.
    ``top_k`` / ``repetition_penalty`` ``None`` mean the original BLIP's per decoding mode (sampling: top-k 50,
    penalty 1.1; beam search and greedy: neither); see :meth:`resolved`. The token ids are set by the model.
    """

    num_beams: int = 3
    max_length: int = 30
    min_length: int = 10
    use_nucleus_sampling: bool = False
    top_p: float = 0.9
    top_k: int | None = 0
    temperature: float = 1.0
    repetition_penalty: float | None = 1.0
    num_return_sequences: int = 1
    length_penalty: float = 1.0
    length_normalization: str = "full"
    bos_token_id: int = 30522
    eos_token_id: int = 102
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        check_length_normalization(self.length_normalization)

    @classmethod
    def from_node(cls, node: object) -> GenerationConfig:
        """A ``GenerationConfig`` from itself, a mapping or a (validated) OmegaConf node."""
        if isinstance(node, cls):
            return node
        if isinstance(node, DictConfig):
            node = OmegaConf.to_container(node, resolve=True)
        return cls(**dict(node))

    def resolved(self) -> GenerationConfig:
        """A copy with ``None`` ``top_k`` / ``repetition_penalty`` replaced by the original BLIP's values."""
        top_k, penalty = blip_sampling_defaults(self.use_nucleus_sampling, self.top_k, self.repetition_penalty)
        return replace(self, top_k=top_k, repetition_penalty=penalty)

    @staticmethod
    def check(node: object, key_path: str, source: str = "") -> None:
        """Reject values no decoder can use, naming ``<key_path>.<key>`` (``run.generation``, ``capfilt.decoding``).

        Raises:
            ConfigError: for a beam count or length below 1, ``top_p`` outside (0, 1], a negative ``top_k``, a
                non-positive penalty or temperature, or an unknown length normalisation.
        """
        where = f"{source}: " if source else ""
        g = SimpleNamespace(**node) if isinstance(node, dict) else node
        problems = []
        if g.num_beams < 1:
            problems.append(f"{key_path}.num_beams must be >= 1 (got {g.num_beams})")
        if g.max_length < 1 or g.min_length < 0:
            problems.append(f"{key_path}.max_length must be >= 1 and min_length >= 0")
        if not 0.0 < g.top_p <= 1.0:
            problems.append(f"{key_path}.top_p must be in (0, 1] (got {g.top_p})")
        if g.top_k is not None and g.top_k < 0:
            problems.append(f"{key_path}.top_k must be >= 0 (0 = off) or null for BLIP's (got {g.top_k})")
        if g.repetition_penalty is not None and not g.repetition_penalty > 0:
            problems.append(f"{key_path}.repetition_penalty must be positive (or null for BLIP's)")
        if not g.temperature > 0:
            problems.append(f"{key_path}.temperature must be positive (got {g.temperature})")
        if problems:
            raise ConfigError(where + "; ".join(problems) + ".")
        check_length_normalization(g.length_normalization, f"{key_path}.length_normalization", source)


class Decoder:
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


def apply_penalties(scores: torch.Tensor, seqs: torch.Tensor, cfg: GenerationConfig) -> torch.Tensor:
    """Repetition penalty over every token so far (prompt included), then min-length EOS suppression."""
    if cfg.repetition_penalty != 1.0:
        prev = torch.gather(scores, 1, seqs)
        prev = torch.where(prev < 0, prev * cfg.repetition_penalty, prev / cfg.repetition_penalty)
        scores = scores.scatter(1, seqs, prev)
    if seqs.shape[1] < cfg.min_length:
        scores[:, cfg.eos_token_id] = float("-inf")
    return scores

"""Typed configuration of a CapFilt job (the ``capfilt:`` section of its YAML)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from vlkit.common.config import ConfigError, _load_yaml, parse_options, to_dataclass, validate_section
from vlkit.common.deprecation import warn_deprecated
from vlkit.common.paths import resolve_config_path
from vlkit.data.synthetic import resolver as _shapes_resolver  # noqa: F401 (${vlkit_shapes:...} in YAMLs)
from vlkit.models.decoding import GenerationConfig


@dataclass
class ModelRef:
    """A model to load: a registered name and type, optionally with a checkpoint (path, URL or HF dir) and
    ``overrides`` of the type's model settings (e.g. ``{queue_size: 64}`` for a filter fine-tuned with a
    shorter queue than its YAML's)."""

    arch: str = "???"
    model_type: str = "???"
    checkpoint: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


def capfilt_decoding(**overrides: Any) -> GenerationConfig:
    """How the captioner writes synthetic captions (``capfilt.decoding``): the paper's nucleus sampling, top-p 0.9.

    The original code sampled with transformers' ``generate``, so top-k 50 applied as well, and with a
    repetition penalty of 1.1 (beam search: 1.0); ``repetition_penalty: null`` picks that per decoding mode.
    ``length_normalization`` ranks finished beams (``num_beams > 1``): ``full`` over the whole sequence, prompt
    included, as the original code on transformers 4.15; ``generated`` over the generated tokens (transformers 5).
    ``num_return_sequences`` is set from ``capfilt.num_captions``.
    """
    settings: dict[str, Any] = dict(
        use_nucleus_sampling=True, top_p=0.9, top_k=50, num_beams=1, max_length=30, min_length=5
    )
    settings.update(repetition_penalty=None, length_normalization="full")
    return GenerationConfig(**{**settings, **overrides})


def DecodingConfig(**overrides: Any) -> GenerationConfig:  # noqa: N802 (the former class's name)
    """Deprecated: CapFilt's decoding settings are a :class:`~vlkit.models.decoding.GenerationConfig`."""
    warn_deprecated(
        "vlkit.capfilt.config.DecodingConfig is deprecated; use vlkit.capfilt.config.capfilt_decoding "
        "(a vlkit.models.decoding.GenerationConfig with CapFilt's defaults)."
    )
    return capfilt_decoding(**overrides)


@dataclass
class WebDataConfig:
    """The web dataset to bootstrap.

    ``format: json`` reads ``annotations`` (a ``[{image, caption}]`` list, images under ``images_root``);
    ``format: wds`` reads webdataset tar ``shards`` (a glob or brace pattern; members ``jpg`` + ``txt``).
    """

    format: str = "json"
    annotations: str | None = None
    images_root: str | None = None
    shards: str | None = None
    noise_labels: str | None = None
    human_annotations: str | None = None
    human_images_root: str | None = None
    # held-out human pairs (e.g. the val split) that calibrate ``itm_threshold: auto``; never in the output
    heldout_annotations: str | None = None
    heldout_images_root: str | None = None


@dataclass
class CapFiltConfig:
    """All settings of a CapFilt job."""

    captioner: ModelRef = field(default_factory=ModelRef)
    filter: ModelRef = field(default_factory=ModelRef)
    data: WebDataConfig = field(default_factory=WebDataConfig)
    decoding: GenerationConfig = field(default_factory=capfilt_decoding)
    num_captions: int = 1
    itm_threshold: Any = 0.5  # a probability (the paper: 0.5), or "auto": calibrated (vlkit's extension)
    calibration_rule: str = "keep_matches"  # itm_threshold auto: keep_matches | youden (see docs/capfilt.md)
    calibration_keep: float = 0.9  # keep_matches: the share of held-out human captions the threshold keeps
    filter_web_texts: bool = True
    filter_synthetic_texts: bool = True
    image_size: int = 0  # 0 = the filter model's own image size
    batch_size: int = 32
    shard_size: int = 256  # items per work shard for json inputs (a wds tar is one shard)
    max_shards: int = 0  # process only the first N shards (0 = all): quick trials and smoke tests
    output_dir: str = "output/capfilt"
    output_formats: list[str] = field(default_factory=lambda: ["json"])
    output_shard_size: int = 1000
    seed: int = 0
    device: str = "auto"
    cpu_allocator: str = "reuse"  # reuse | system (vlkit/common/cpu_allocator.py)
    on_bad_sample: str = "skip"
    progress: str = "auto"
    examples_in_report: int = 8


def load_capfilt_config(path: str | Path, options: Sequence[str] | None = None) -> CapFiltConfig:
    """Load and validate a CapFilt YAML (top-level ``capfilt:`` and optional ``custom_imports:``).

    Raises:
        ConfigError: for unknown keys or wrong types, naming the key path and the file.
    """
    from vlkit.common.plugins import import_custom_modules

    resolved = resolve_config_path(path)
    raw = _load_yaml(resolved)
    for key in raw:
        if key not in ("capfilt", "custom_imports"):
            raise ConfigError(
                f"{resolved}: unknown top-level key '{key}'. Valid top-level keys: capfilt, custom_imports."
            )
    raw = OmegaConf.merge(raw, parse_options(options))
    if "custom_imports" in raw:
        import_custom_modules(list(raw.custom_imports), source=str(resolved))
    source = f"{resolved} (with --options)" if options else str(resolved)
    node = validate_section(raw.get("capfilt"), CapFiltConfig, "capfilt", source)
    return capfilt_config_from_node(node, source)


def capfilt_config_from_node(node: object, source: str) -> CapFiltConfig:
    """Turn a validated node into the nested dataclasses and check cross-field rules."""
    cfg = to_dataclass(node, CapFiltConfig)
    cfg.captioner = ModelRef(**cfg.captioner) if isinstance(cfg.captioner, dict) else cfg.captioner
    cfg.filter = ModelRef(**cfg.filter) if isinstance(cfg.filter, dict) else cfg.filter
    cfg.data = WebDataConfig(**cfg.data) if isinstance(cfg.data, dict) else cfg.data
    GenerationConfig.check(cfg.decoding, "capfilt.decoding", source)  # before building it: errors name the key
    cfg.decoding = GenerationConfig.from_node(cfg.decoding)
    if cfg.data.format not in ("json", "wds"):
        raise ConfigError(f"{source}: capfilt.data.format must be 'json' or 'wds', got {cfg.data.format!r}.")
    if cfg.data.format == "json" and not cfg.data.annotations:
        raise ConfigError(f"{source}: capfilt.data.annotations must name the web json list when format is json.")
    if cfg.data.format == "wds" and not cfg.data.shards:
        raise ConfigError(f"{source}: capfilt.data.shards must name the webdataset tar files when format is wds.")
    bad = sorted(set(cfg.output_formats) - {"json", "wds"})
    if bad or not cfg.output_formats:
        raise ConfigError(f"{source}: capfilt.output_formats must be a non-empty subset of [json, wds], got {bad}.")
    if cfg.itm_threshold == "auto":
        if not cfg.data.heldout_annotations:
            raise ConfigError(
                f"{source}: capfilt.itm_threshold is 'auto' but capfilt.data.heldout_annotations is not set: "
                "name held-out human pairs (e.g. the val split's annotation file) to calibrate it on."
            )
        if cfg.calibration_rule not in ("keep_matches", "youden"):
            raise ConfigError(
                f"{source}: capfilt.calibration_rule must be 'keep_matches' or 'youden', got {cfg.calibration_rule!r}."
            )
        if not 0.0 < cfg.calibration_keep < 1.0:
            raise ConfigError(f"{source}: capfilt.calibration_keep must be in (0, 1), got {cfg.calibration_keep}.")
    elif isinstance(cfg.itm_threshold, bool) or not isinstance(cfg.itm_threshold, int | float):
        raise ConfigError(f"{source}: capfilt.itm_threshold must be a probability in [0, 1] or 'auto'.")
    elif not 0.0 <= cfg.itm_threshold <= 1.0:
        raise ConfigError(f"{source}: capfilt.itm_threshold must be a probability in [0, 1] or 'auto'.")
    else:
        cfg.itm_threshold = float(cfg.itm_threshold)
    if cfg.num_captions < 0:
        raise ConfigError(f"{source}: capfilt.num_captions must be >= 0 (0 = filter the web texts only).")
    if cfg.on_bad_sample not in ("error", "skip"):
        raise ConfigError(f"{source}: capfilt.on_bad_sample must be 'error' or 'skip'.")
    for ref_name in ("captioner", "filter"):
        ref = getattr(cfg, ref_name)
        if ref.arch == "???" or ref.model_type == "???":
            raise ConfigError(f"{source}: capfilt.{ref_name}.arch and capfilt.{ref_name}.model_type are required.")
    return cfg

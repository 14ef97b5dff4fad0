"""The typed ``model:`` section shared by every BLIP model (defaults in one place)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass
class BlipConfig:
    """All BLIP model settings; each model type's YAML overrides what differs.

    ``vit``/``med`` pick the encoder sizes (tiny/base/large, tiny/base); ``share_strategy`` is the paper's
    Table 3 choice for the pre-training decoder; ``itm_first_token`` is the image-grounded encoder's first
    token (``enc`` as in pre-training/retrieval; the stand-alone ITM model of the original code uses ``cls``);
    ``itm_negatives`` is ``hard`` (BLIP: sampled in proportion to ITC similarity) or ``random`` (uniform over
    the other pairs of the batch; measured to train a tiny filter much faster, docs/training.md).
    """

    # the ITC alpha ramp is set by the training task (run.alpha_ramp_epochs); this model key never had an effect
    DEPRECATED_KEYS: ClassVar[dict[str, str | None]] = {"alpha_ramp_epochs": None}

    arch: str = "???"
    model_type: str = "???"
    vit: str = "base"
    image_size: int = 384
    vit_grad_ckpt: bool = False
    vit_ckpt_layer: int = 0
    vit_drop_path_rate: float = 0.0
    med: str = "base"
    embed_dim: int = 256
    queue_size: int = 57600
    alpha: float = 0.4
    momentum: float = 0.995
    temp: float = 0.07
    label_smoothing: float = 0.1
    prompt: str = "a picture of "
    max_txt_len: int = 35
    share_strategy: str = "all_but_self_attention"
    negative_all_rank: bool = False
    itm_negatives: str = "hard"  # "hard": sampled by ITC similarity (BLIP); "random": uniform over the batch
    itm_first_token: str = "enc"
    num_frames: int = 0
    load_pretrained: bool = False
    pretrained: str | None = None
    pretrained_sha256: str | None = None  # checked against the downloaded ``pretrained`` file when set
    load_finetuned: bool = False
    finetuned: str | None = None
    finetuned_sha256: str | None = None  # checked against the downloaded ``finetuned`` file when set
    # the paper's start: {vision: timm:<name> | path, text: bert-base-uncased | path} (vlkit.models.init_from)
    init_from: dict[str, Any] = field(default_factory=dict)
    preprocess: dict[str, Any] = field(default_factory=dict)


@dataclass
class BlipWarmStartConfig(BlipConfig):
    """The warm-start models' section: BLIP's keys plus their read-out shapes and objective weights.

    ``scene_*`` describe the scene label vector the vision model reads out (``scene_cells`` occupancy flags,
    ``scene_cells`` classes per attribute of ``scene_attributes`` in that order, one background class of
    ``scene_backgrounds``: the warm-start datasets' layout). The text model masks ``mlm_probability`` of the
    tokens and adds ``paraphrase_weight`` times the contrastive loss (temperature ``paraphrase_temp``) between
    two human-style captions' [CLS] features of each scene.
    """

    scene_cells: int = 9
    scene_attributes: dict[str, int] = field(default_factory=lambda: {"colour": 6, "shape": 5, "size": 2})
    scene_backgrounds: int = 4
    mlm_probability: float = 0.15
    paraphrase_weight: float = 1.0
    paraphrase_temp: float = 0.1


def check_blip_config(config: Any) -> None:
    """Reject settings no BLIP model can train or run with, naming the ``model.`` key to fix.

    Raises:
        ValueError: for a non-positive ``queue_size``/``embed_dim``/``temp``/``max_txt_len``, or a
            ``momentum``/``alpha``/``label_smoothing`` outside its range.
    """
    problems = []
    for key in ("queue_size", "embed_dim", "max_txt_len"):
        if int(getattr(config, key)) < 1:
            problems.append(f"model.{key} must be >= 1 (got {getattr(config, key)})")
    if not float(config.temp) > 0:
        problems.append(f"model.temp must be > 0 (got {config.temp})")
    if not 0.0 <= float(config.momentum) < 1.0:
        problems.append(f"model.momentum must be in [0, 1) (got {config.momentum})")
    for key in ("alpha", "label_smoothing"):
        if not 0.0 <= float(getattr(config, key)) <= 1.0:
            problems.append(f"model.{key} must be in [0, 1] (got {getattr(config, key)})")
    if config.init_from and (config.load_pretrained or config.load_finetuned):
        which = "load_pretrained" if config.load_pretrained else "load_finetuned"
        problems.append(
            f"model.init_from and model.{which}=true both name starting weights; set model.{which}=false to start "
            f"from init_from (the paper's ImageNet ViT + BERT)"
        )
    if config.itm_negatives not in ("hard", "random"):
        problems.append(f"model.itm_negatives must be 'hard' or 'random' (got {config.itm_negatives!r})")
    if problems:
        raise ValueError("Invalid BLIP model config: " + "; ".join(problems) + ".")


def model_type_configs(arch: str, *types: str) -> dict[str, str]:
    """``PRETRAINED_MODEL_CONFIG_DICT`` for ``types`` of ``arch``: ``configs/models/<arch>/<type>.yaml``."""
    return {t: f"configs/models/{arch}/{t}.yaml" for t in types}

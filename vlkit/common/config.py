"""Project configs: YAML files with ``model``, ``datasets`` and ``run`` sections.

Merge order, later wins: the model's default config for its ``model_type`` → each dataset builder's
default config → the project file → ``--options key.sub=value`` overrides. Each section is then
validated against the typed dataclass its component declares (``CONFIG_CLASS`` on models and
builders, ``RUN_CONFIG`` on tasks), so a misspelt key or a wrong type fails up front, naming the key
path and the file.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from vlkit.common.deprecation import apply_deprecated_keys
from vlkit.common.paths import owner_packages, resolve_config_path

logger = logging.getLogger(__name__)

TOP_LEVEL_KEYS = ("model", "datasets", "run", "custom_imports")


def _drop_renamed_processors(defaults: Any, node: Any) -> Any:
    """``defaults`` without the processor specs that ``node`` replaces by one of another ``name``.

    A processor spec is merged key by key with its default only while it names the same processor: a user
    who swaps ``blip_image_train`` for ``blip_image_eval`` gets the new processor's own defaults, not the old
    one's keys (which it would reject as unknown).
    """
    if not isinstance(defaults, DictConfig) or not node:
        return defaults
    out = defaults.copy()
    for section in ("vis_processor", "text_processor"):
        mine, theirs = out.get(section), node.get(section)
        if not isinstance(mine, DictConfig) or not theirs:
            continue
        for split, spec in theirs.items():
            old = mine.get(split)
            if spec is not None and old is not None and spec.get("name") not in (None, old.get("name")):
                del mine[split]
    return out


class ConfigError(ValueError):
    """A config problem; the message names the key path and the file to fix."""


def _cache_resolver(sub: str = "") -> str:
    from vlkit.common.paths import cache_root

    return str(cache_root() / sub)


# ${vlkit_cache:sub/dir} -> $VLKIT_CACHE/sub/dir (${vlkit_shapes:...} is registered by vlkit.data.synthetic.resolver)
if not OmegaConf.has_resolver("vlkit_cache"):
    OmegaConf.register_resolver("vlkit_cache", _cache_resolver)


@dataclass
class RunConfig:
    """Keys every ``run`` section accepts. Tasks extend this through their ``RUN_CONFIG`` dataclass."""

    task: str = "???"
    runner: str = "runner_base"
    seed: int = 42
    output_dir: str = "output/${run.task}"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # optimisation
    lr_sched: str = "linear_warmup_cosine_lr"
    init_lr: float = 1e-5
    min_lr: float = 0.0
    warmup_lr: float = 1e-6
    warmup_steps: int = 0
    lr_decay_rate: float = 0.9
    lr_decay_fraction: float = 0.2  # warmup_stable_decay_lr: the last fraction of run.max_iters decays to min_lr
    weight_decay: float = 0.05
    vit_lr_scale: float = 1.0
    max_epoch: int = 1
    max_iters: int = 0
    iters_per_inner_epoch: int = 0
    batch_size_train: int = 32
    batch_size_eval: int = 64
    accum_grad_iters: int = 1
    grad_clip: float = 0.0
    amp: str = "none"  # none | bf16 | fp16
    grad_checkpointing: bool = False
    optimizer_in_backward: bool = False  # AdamW per parameter in the backward pass (runners/optim_in_backward.py)
    deterministic: bool | None = None  # None: on for CPU, off for GPU (see docs/training.md)
    cpu_allocator: str = "reuse"  # reuse | system: keep freed large CPU blocks for reuse (docs/training.md)
    num_workers: int = 2
    # splits and evaluation
    train_splits: list[str] = field(default_factory=lambda: ["train"])
    valid_splits: list[str] = field(default_factory=list)
    test_splits: list[str] = field(default_factory=list)
    evaluate: bool = False
    best_metric: str = "agg_metrics"
    best_metric_mode: str = "max"  # max | min
    # distributed, checkpoints, logging
    distributed: bool = True
    dist_backend: str = "auto"
    resume_ckpt_path: str | None = None
    save_freq: int = 1
    save_every_n_steps: int = 0
    keep_last_n: int = 1
    log_freq: int = 10
    tensorboard: bool = False
    progress: str = "auto"  # auto | on | off
    on_bad_sample: str = "auto"  # auto (each dataset's default) | error | skip
    max_train_steps_per_epoch: int = 0
    max_eval_batches: int = 0
    # added for the runner
    job_name: str | None = None  # sub-directory of output_dir; None = a timestamp
    find_unused_parameters: bool = False  # DDP: models with branches unused in some steps
    strategy: str = "ddp"  # several ranks: ddp (replicas) | fsdp (FSDP2 fully_shard over the ViT and MED blocks)


def _suggest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def validate_section(node: Any, schema: type | None, key_path: str, source: str) -> DictConfig:
    """Validate ``node`` against dataclass ``schema`` and fill its defaults.

    A schema may declare ``DEPRECATED_KEYS`` (old key -> new key path, or None for a key without effect): such
    keys are moved to their new place with a deprecation message instead of being rejected.

    Raises:
        ConfigError: for an unknown key or a value of the wrong type, naming ``key_path`` and ``source``.
    """
    if node is None:
        node = OmegaConf.create({})
    if schema is None:
        return node if isinstance(node, DictConfig) else OmegaConf.create(node)
    if not isinstance(node, DictConfig | dict):
        raise ConfigError(f"{source}: '{key_path}' must be a mapping, got {type(node).__name__}.")
    renamed = getattr(schema, "DEPRECATED_KEYS", None)
    if renamed:  # old key -> new path (or None: no effect), accepted with a message for one release
        node = apply_deprecated_keys(
            node if isinstance(node, DictConfig) else OmegaConf.create(node), renamed, key_path, source
        )
    valid = [f.name for f in fields(schema)]
    for key in node:
        if key not in valid:
            raise ConfigError(
                f"{source}: unknown key '{key_path}.{key}'.{_suggest(str(key), valid)} "
                f"Valid keys under '{key_path}': {', '.join(valid)}."
            )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), node)
    except OmegaConfBaseException as err:
        sub = getattr(err, "full_key", None) or ""
        where = f"{key_path}.{sub}" if sub else key_path
        msg = str(err).splitlines()[0]
        raise ConfigError(f"{source}: invalid value at '{where}': {msg}") from None
    check_values = getattr(schema, "check_values", None)
    if callable(check_values):  # value rules a type cannot express (e.g. one of a few strings)
        check_values(merged, key_path, source)
    return merged


def parse_options(options: Sequence[str] | None) -> DictConfig:
    """Turn ``["run.init_lr=1e-4", "model.image_size=224"]`` into a config.

    Raises:
        ConfigError: for an option that is not ``key=value``.
    """
    options = list(options or [])
    for opt in options:
        if "=" not in opt or opt.startswith("="):
            raise ConfigError(f"--options entry {opt!r} is not of the form key.sub=value.")
    return OmegaConf.from_dotlist(options)


def _load_yaml(path: Path) -> DictConfig:
    try:
        cfg = OmegaConf.load(path)
    except Exception as err:  # noqa: BLE001 - YAML errors come in many types; all mean "fix this file".
        raise ConfigError(f"{path}: could not parse YAML: {err}") from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"{path}: a config file must hold a mapping at the top level.")
    return cfg


class Config:
    """A merged, validated project config.

    Args:
        cfg_path: The project YAML (absolute, relative to the cwd, or to the vlkit package).
        options: ``key.sub=value`` overrides applied last.

    Attributes:
        config: The whole merged config (``model``, ``datasets``, ``run``).
        path: The project file.
    """

    def __init__(self, cfg_path: str | Path, options: Sequence[str] | None = None) -> None:
        from vlkit.common.plugins import import_custom_modules

        self.path = resolve_config_path(cfg_path)
        source = str(self.path)
        user = _load_yaml(self.path)
        for key in user:
            if key not in TOP_LEVEL_KEYS:
                raise ConfigError(
                    f"{source}: unknown top-level key '{key}'.{_suggest(str(key), TOP_LEVEL_KEYS)} "
                    f"Valid top-level keys: {', '.join(TOP_LEVEL_KEYS)}."
                )
        overrides = parse_options(options)
        for key in overrides:
            if key not in TOP_LEVEL_KEYS:
                raise ConfigError(
                    f"--options: unknown top-level key '{key}'.{_suggest(str(key), TOP_LEVEL_KEYS)} "
                    f"Options look like run.init_lr=1e-4 or model.image_size=384."
                )
        user = OmegaConf.merge(user, overrides)
        if "custom_imports" in user:
            import_custom_modules(list(user.custom_imports), source=source)
        sources = f"{source} (with --options)" if len(overrides) else source

        self.config = OmegaConf.create(
            {
                "model": self._build_model(user.get("model"), sources),
                "datasets": self._build_datasets(user.get("datasets"), sources),
                "run": self._build_run(user.get("run"), sources),
            }
        )

    @staticmethod
    def _build_model(node: Any, source: str) -> DictConfig | None:
        from vlkit.common.registry import registry

        if node is None:
            return None
        if "arch" not in node:
            raise ConfigError(f"{source}: 'model.arch' is missing; set it to a registered model name.")
        model_cls = registry.get_model_class(node.arch)
        model_type = node.get("model_type") or getattr(model_cls, "DEFAULT_MODEL_TYPE", None)
        defaults = OmegaConf.create({})
        if model_type is not None:
            defaults = load_model_default_config(model_cls, model_type, source)
        preprocess = defaults.get("preprocess") if isinstance(defaults, DictConfig) else None
        if preprocess is not None and node.get("preprocess") is not None:
            defaults.preprocess = _drop_renamed_processors(preprocess, node.preprocess)
        merged = OmegaConf.merge(defaults, node)
        merged.model_type = model_type
        return validate_section(merged, getattr(model_cls, "CONFIG_CLASS", None), "model", source)

    @staticmethod
    def _build_datasets(node: Any, source: str) -> DictConfig:
        from vlkit.common.registry import registry

        out = {}
        for name, ds_node in (node or {}).items():
            builder_cls = registry.get_builder_class(name)
            default_path = builder_cls.default_config_path() if hasattr(builder_cls, "default_config_path") else None
            defaults = OmegaConf.create({})
            if default_path is not None:
                loaded = _load_yaml(Path(default_path))
                defaults = loaded.get("datasets", {}).get(name, loaded)
            merged = OmegaConf.merge(_drop_renamed_processors(defaults, ds_node), ds_node or {})
            out[name] = validate_section(merged, getattr(builder_cls, "CONFIG_CLASS", None), f"datasets.{name}", source)
        return OmegaConf.create(out)

    @staticmethod
    def _build_run(node: Any, source: str) -> DictConfig:
        from vlkit.common.registry import registry

        schema: type = RunConfig
        if node is not None and node.get("task") not in (None, "???"):
            task_cls = registry.get_task_class(node.task)
            schema = getattr(task_cls, "RUN_CONFIG", RunConfig)
        run = validate_section(node, schema, "run", source)
        if OmegaConf.is_missing(run, "task"):
            raise ConfigError(f"{source}: 'run.task' is missing; set it to a registered task name.")
        return run

    @property
    def model_cfg(self) -> DictConfig:
        return self.config.model

    @property
    def datasets_cfg(self) -> DictConfig:
        return self.config.datasets

    @property
    def run_cfg(self) -> DictConfig:
        return self.config.run

    def to_yaml(self) -> str:
        """The merged config as YAML (written into every job's output dir)."""
        return OmegaConf.to_yaml(self.config, resolve=True)


def load_model_default_config(model_cls: type, model_type: str, source: str = "") -> DictConfig:
    """The ``model`` section of ``model_cls``'s YAML for ``model_type``.

    Raises:
        ConfigError: for an unknown model type, listing the known ones, or one with no released weights.
        FileNotFoundError: when the type's YAML is not where the class says (naming the key and the paths tried).
    """
    types = getattr(model_cls, "PRETRAINED_MODEL_CONFIG_DICT", {})
    name = getattr(model_cls, "__name__", str(model_cls))
    where = f"{source}: " if source else ""
    unreleased = getattr(model_cls, "UNRELEASED_MODEL_TYPES", {})
    if model_type in unreleased and model_type not in types:
        raise ConfigError(
            f"{where}model_type {model_type!r} of {name} has no released weights: {unreleased[model_type]}. "
            f"Available types: {', '.join(sorted(types)) or '(none)'}."
        )
    if model_type not in types:
        raise ConfigError(
            f"{where}unknown model_type {model_type!r} for {name}.{_suggest(model_type, list(types))} "
            f"Available types: {', '.join(sorted(types)) or '(none)'}."
        )
    path = model_config_path(model_cls, model_type)
    cfg = _load_yaml(path)
    return cfg.model if "model" in cfg else cfg


def model_config_path(model_cls: type, model_type: str) -> Path:
    """Where ``model_cls.PRETRAINED_MODEL_CONFIG_DICT[model_type]`` is, looked up first in the class's package.

    A plugin's relative paths thus resolve against the plugin's package from any working directory.

    Raises:
        FileNotFoundError: naming the dict entry, its value and every place tried.
    """
    declared = model_cls.PRETRAINED_MODEL_CONFIG_DICT[model_type]
    try:
        return resolve_config_path(declared, owner_packages(model_cls))
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"{model_cls.__module__}.{model_cls.__name__}.PRETRAINED_MODEL_CONFIG_DICT[{model_type!r}]: {err} "
            f"Ship the YAML in the package that defines the class (as package data) and give its path relative to "
            f"that package, or write it as 'package:relative/path'."
        ) from None


def to_dataclass(node: DictConfig | dict, schema: type) -> Any:
    """Instantiate dataclass ``schema`` from a (validated) config node."""
    if not is_dataclass(schema):
        raise TypeError(f"{schema!r} is not a dataclass")
    container = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig | ListConfig) else node
    names = {f.name for f in fields(schema)}
    return schema(**{k: v for k, v in container.items() if k in names})

"""The base of every vlkit model: config-driven construction and checkpoint loading/saving."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from vlkit.common.config import load_model_default_config, model_config_path, to_dataclass, validate_section
from vlkit.models.checkpoint import CheckpointError, LoadReport, read_state_dict
from vlkit.models.examples import ExampleBatch
from vlkit.models.vit import interpolate_pos_embed

logger = logging.getLogger(__name__)


class BaseModel(nn.Module):
    """Common surface: ``from_config``, ``from_pretrained``, ``load_checkpoint``, ``save_checkpoint``.

    Subclasses set ``PRETRAINED_MODEL_CONFIG_DICT`` (model type → package-relative YAML), ``CONFIG_CLASS``
    (the dataclass of the ``model:`` section) and, when transformers has the same model, ``HF_ARCH``.
    """

    PRETRAINED_MODEL_CONFIG_DICT: ClassVar[dict[str, str]] = {}
    # Types LAVIS names for this model without released weights (type -> why); asking for one is an error saying so.
    UNRELEASED_MODEL_TYPES: ClassVar[dict[str, str]] = {}
    CONFIG_CLASS: ClassVar[type | None] = None
    DEFAULT_MODEL_TYPE: ClassVar[str | None] = None
    HF_ARCH: ClassVar[str | None] = None

    config: Any
    load_report: LoadReport | None = None  # what the last weight loading did (random_init when none)

    @classmethod
    def default_config_path(cls, model_type: str) -> Path:
        """The YAML of ``model_type`` (raises ConfigError listing the known types)."""
        load_model_default_config(cls, model_type)  # validates the type with a helpful error
        return model_config_path(cls, model_type)

    @classmethod
    def build_config(cls, cfg: DictConfig | dict) -> Any:
        """Validate a ``model:`` section and turn it into ``CONFIG_CLASS``."""
        node = validate_section(
            OmegaConf.create(dict(cfg) if isinstance(cfg, dict) else cfg), cls.CONFIG_CLASS, "model", "model config"
        )
        return to_dataclass(node, cls.CONFIG_CLASS)

    @classmethod
    def from_config(cls, cfg: DictConfig | dict, load_weights: bool = True, announce_random: bool = True) -> BaseModel:
        """Build the architecture from a ``model:`` section, then load the weights it names.

        ``load_finetuned``/``finetuned`` are loaded strictly; ``load_pretrained``/``pretrained`` keep only the
        keys this model has (e.g. pre-training weights into a task model), with a logged report. A
        ``finetuned_sha256``/``pretrained_sha256`` config value is checked against the downloaded file.
        ``init_from`` (where the config class has it) starts from other models' weights instead
        (:meth:`init_from_sources`). A model left with random weights logs a warning and its
        ``load_report`` has ``random_init=True`` (``announce_random=False``: the caller loads weights next).
        """
        model = cls(cls.build_config(cfg))
        c = model.config
        loaded = False
        if load_weights:
            for which, strict in (("finetuned", True), ("pretrained", False)):
                if getattr(c, f"load_{which}", False) and getattr(c, which, None):
                    model.load_checkpoint(getattr(c, which), strict=strict, sha256=getattr(c, f"{which}_sha256", None))
                    loaded = True
                    break
            if not loaded and getattr(c, "init_from", None):
                model.load_report = model.init_from_sources(c.init_from)
                loaded = True
        if not loaded:
            why = "pretrained=False" if not load_weights else "its config names no weights to load"
            model.load_report = LoadReport(source=why, random_init=True)
            if announce_random:
                name = f"{getattr(c, 'arch', cls.__name__)}/{getattr(c, 'model_type', '?')}"
                logger.warning(
                    "%s has random weights (%s): it has not been trained. Load released weights (pretrained=True, or "
                    "a type whose YAML sets load_pretrained/load_finetuned), a checkpoint=, or model.init_from.",
                    name,
                    why,
                )
        return model

    def init_from_sources(self, sources: Any) -> LoadReport:
        """Hook: initialise parts of the model from other models' weights (``model.init_from``)."""
        raise NotImplementedError(f"{type(self).__name__} does not support model.init_from.")

    @classmethod
    def from_pretrained(cls, model_type: str, load_weights: bool = True, **overrides: Any) -> BaseModel:
        """Build ``model_type`` from its YAML (with ``overrides``) and load its released weights."""
        cfg = OmegaConf.merge(load_model_default_config(cls, model_type), overrides)
        cfg.model_type = model_type
        return cls.from_config(cfg, load_weights=load_weights)

    @classmethod
    def example_batch(cls, config: Any, batch_size: int = 2) -> ExampleBatch:
        """A small batch ``forward`` accepts, for the registry-wide model tests (see :mod:`vlkit.models.examples`).

        Raises:
            NotImplementedError: until the model declares one.
        """
        raise NotImplementedError(
            f"{cls.__module__}.{cls.__qualname__} declares no example_batch(config): add one (an ExampleBatch from "
            "vlkit.models.examples) so the registry-wide model tests can exercise it."
        )

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def no_weight_decay(self) -> set[str]:
        return set()

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "set_grad_checkpointing"):
                module.set_grad_checkpointing(enable)

    def adapt_state_dict(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Hook: rewrite a checkpoint's state dict before loading (e.g. NLVR's two cross-attention branches)."""
        return state_dict

    def optional_checkpoint_keys(self) -> tuple[str, ...]:
        """Key prefixes a checkpoint may lack without failing a strict load (rebuilt by :meth:`after_load`)."""
        return ()

    def after_load(self, missing_keys: list[str]) -> None:
        """Hook run after weights are loaded (e.g. initialise momentum encoders from the loaded ones)."""

    def load_checkpoint(
        self,
        source: str | Path | dict,
        strict: bool = True,
        sha256: str | None = None,
        allow_unsafe_pickle: bool = False,
    ) -> LoadReport:
        """Load weights from a URL, file, transformers dir or state dict.

        The model's :meth:`adapt_state_dict` runs first; position embeddings (also the momentum ViT's) are
        interpolated when the checkpoint's image grid differs. With ``strict``, any missing, unexpected or
        wrongly shaped key is an error listing them, and the model is left unchanged; otherwise only the
        matching keys are loaded and the report says what was left at its initial value.

        Args:
            source: URL, ``.pth``/``.safetensors`` file, transformers BLIP directory, or a state dict.
            strict: fail unless the checkpoint fits exactly (keys in ``optional_checkpoint_keys`` may be absent).
            sha256: expected digest of a downloaded file.
            allow_unsafe_pickle: unpickle arbitrary objects (only for files you trust).

        Raises:
            CheckpointError: naming the source and the offending keys.
        """
        label = "state dict" if isinstance(source, dict) else str(source)
        sd = self.adapt_state_dict(dict(read_state_dict(source, self.HF_ARCH, sha256, allow_unsafe_pickle)))
        own = self.state_dict()
        report = LoadReport(source=label)
        for key in [k for k in sd if k.endswith("pos_embed") and k in own]:
            if sd[key].shape != own[key].shape:
                sd[key] = interpolate_pos_embed(sd[key], own[key].shape[1] - 1)
                report.interpolated.append(key)
        mismatched = [k for k in sd if k in own and sd[k].shape != own[k].shape]
        usable = {k: v for k, v in sd.items() if k not in mismatched}
        tensors = self.state_dict(keep_vars=True)
        # a tied parameter (e.g. the LM bias under two names) is loaded when any of its names is
        loaded_ids = {id(tensors[k]) for k in usable if k in tensors}
        not_in_checkpoint = [k for k in own if k not in usable]
        optional = self.optional_checkpoint_keys()
        report.missing_keys = [
            k for k in not_in_checkpoint if not k.startswith(optional) and id(tensors[k]) not in loaded_ids
        ]
        report.unexpected_keys = [k for k in usable if k not in own]
        report.skipped_shape_mismatch = mismatched
        if strict and (report.missing_keys or report.unexpected_keys or mismatched):
            shapes = "".join(
                f" '{k}' has shape {tuple(sd[k].shape)} but the model expects {tuple(own[k].shape)}."
                for k in mismatched[:3]
            )
            raise CheckpointError(
                f"{label} does not match {type(self).__name__}: {report.summary()}.{shapes} Use the checkpoint made "
                f"for this model type (e.g. base vs large), or load it non-strictly (strict=False, or as the YAML's "
                f"`pretrained`) to keep only the matching weights."
            )
        self.load_state_dict(usable, strict=False)
        self.after_load(not_in_checkpoint)
        self.load_report = report
        (logger.info if strict else logger.warning if report.missing_keys else logger.info)(report.summary())
        return report

    def save_pretrained(
        self,
        out_dir: str | Path,
        job_dir: str | Path | None = None,
        metrics: dict[str, float] | None = None,
        repo_id: str | None = None,
    ) -> Path:
        """Write transformers' BLIP layout + ``vlkit.yaml`` + a ``README.md`` model card to ``out_dir``.

        See :func:`vlkit.models.pretrained.save_pretrained` (caption, retrieval/ITM and VQA models).
        """
        from vlkit.models.pretrained import save_pretrained

        return save_pretrained(self, out_dir, job_dir=job_dir, metrics=metrics, repo_id=repo_id)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> Any:
        """Upload :meth:`save_pretrained`'s files to the Hugging Face Hub repository ``repo_id`` (created if needed).

        See :func:`vlkit.models.pretrained.push_to_hub` for ``job_dir``, ``metrics``, ``private``, ``token``.
        """
        from vlkit.models.pretrained import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the weights as ``.safetensors`` and the model config next to it (``<path>.yaml``)."""
        from dataclasses import asdict

        from safetensors.torch import save_file

        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        # safetensors refuses shared storage: store each tensor once, contiguous (ties are rebuilt on load)
        tensors = {k: v.detach().contiguous().clone() for k, v in self.state_dict().items()}
        save_file(tensors, str(path), metadata={"vlkit_model": type(self).__name__})
        cfg = (
            {"model": asdict(self.config)}
            if hasattr(self.config, "__dataclass_fields__")
            else {"model": dict(self.config)}
        )
        path.with_suffix(".yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(json.loads(json.dumps(cfg)))))
        return path

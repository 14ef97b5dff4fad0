"""Dataset builders: a config (``datasets.<name>``) → datasets per split, with clear errors for missing data."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import DictConfig, OmegaConf
from torch.utils.data import Dataset

from vlkit.common.config import ConfigError
from vlkit.common.paths import owner_packages, resolve_config_path
from vlkit.data.annotation_schema import AnnotationSchema, validate_entries
from vlkit.data.bad_samples import BadSampleCounter, resolve_policy
from vlkit.data.io import ALPHA_MODES, DEFAULT_MAX_IMAGE_PIXELS

logger = logging.getLogger(__name__)


@dataclass
class DatasetConfig:
    """The ``datasets.<name>`` section.

    ``build_info`` holds ``root`` (dataset directory), ``annotations`` (split → ``storage`` path relative to
    root, optional ``url``/``sha256``, extra files such as ``gt``), and ``images``/``videos`` (``storage``).
    """

    data_type: str = "images"
    build_info: dict[str, Any] = field(default_factory=dict)
    vis_processor: dict[str, Any] = field(default_factory=dict)
    text_processor: dict[str, Any] = field(default_factory=dict)
    max_samples: int = 0
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS  # larger images are bad samples (decompression bombs)
    alpha: str = "composite"  # transparent images: composite on white, or drop the alpha channel
    on_bad_sample: str = "auto"
    description: str = ""


class BaseDatasetBuilder:
    """Builds one dataset's splits. Subclasses say which dataset class serves which split (:meth:`build_split`)
    and the annotation format of each (``SCHEMAS``: ``train`` and ``eval``, checked once when a file loads).

    Args:
        cfg: The validated ``datasets.<name>`` section.
        on_bad_sample: ``run.on_bad_sample`` (``auto`` = this dataset's default policy).
    """

    CONFIG_CLASS: ClassVar[type] = DatasetConfig
    DATASET_CONFIG_DICT: ClassVar[dict[str, str]] = {}
    SCHEMAS: ClassVar[dict[str, AnnotationSchema]] = {}  # "train" / "eval" -> the format of one entry
    READS_ANNOTATIONS: ClassVar[bool] = True  # False: the data is drawn in memory, no annotation file exists
    DEFAULT_POLICY: ClassVar[str] = "error"  # curated datasets stop on bad input; web-scale ones skip
    IMAGES_HINT: ClassVar[str] = "obtain the images from the dataset's website"
    name: ClassVar[str] = "dataset"

    def __init__(self, cfg: DictConfig | dict | None = None, on_bad_sample: str = "auto") -> None:
        if cfg is None:
            cfg = OmegaConf.load(self.default_config_path()).datasets[self.name]
        self.cfg = OmegaConf.create(cfg) if isinstance(cfg, dict) else cfg
        requested = on_bad_sample if on_bad_sample not in (None, "auto") else self.cfg.get("on_bad_sample", "auto")
        self.policy = resolve_policy(requested, self.DEFAULT_POLICY)
        self.annotation_skips: dict[str, BadSampleCounter] = {}  # split -> entries skipped when loading
        self._check_limits()

    def _check_limits(self) -> None:
        """Settings that would silently drop data: refused up front, naming the key."""
        section = f"datasets.{self.name}"
        if self.cfg.get("alpha", "composite") not in ALPHA_MODES:
            raise ConfigError(f"{section}.alpha must be one of {', '.join(ALPHA_MODES)}, got {self.cfg.alpha!r}.")
        if int(self.cfg.get("max_samples", 0) or 0) < 0:
            raise ConfigError(f"{section}.max_samples must be 0 (all) or positive, got {self.cfg.max_samples}.")
        if int(self.cfg.get("max_image_pixels", 1)) <= 0:
            raise ConfigError(f"{section}.max_image_pixels must be positive, got {self.cfg.max_image_pixels}.")

    @classmethod
    def default_config_path(cls, type: str = "default") -> Path:  # noqa: A002 - LAVIS-compatible name
        if type not in cls.DATASET_CONFIG_DICT:
            raise ConfigError(f"{cls.name}: no '{type}' config; available: {', '.join(cls.DATASET_CONFIG_DICT)}.")
        declared = cls.DATASET_CONFIG_DICT[type]
        try:  # a plugin's builder lists paths relative to its own package
            return resolve_config_path(declared, owner_packages(cls))
        except FileNotFoundError as err:
            raise FileNotFoundError(f"{cls.__module__}.{cls.__name__}.DATASET_CONFIG_DICT[{type!r}]: {err}") from None

    # -- paths ---------------------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        root = self.cfg.build_info.get("root")
        if not root:
            raise ConfigError(f"datasets.{self.name}.build_info.root is not set: point it at the dataset directory.")
        return Path(str(root)).expanduser()

    def path(self, rel: str | None) -> Path | None:
        if rel is None:
            return None
        p = Path(str(rel)).expanduser()
        return p if p.is_absolute() else self.root / p

    def path_or_default(self, key: str = "images") -> Path:
        """Where ``build_info.<key>.storage`` points (default: ``<root>/<key>``)."""
        info = self.cfg.build_info.get(key) or {}
        return self.path(info.get("storage", key))

    def media_root(self, key: str = "images") -> Path:
        """The images (or videos) directory; raises saying how to obtain it when it is missing."""
        root = self.path_or_default(key)
        if not root.is_dir():
            raise FileNotFoundError(
                f"{self.name}: {key} not found at {root}. {self.IMAGES_HINT}, and put them there "
                f"(or set datasets.{self.name}.build_info.{key}.storage to where they are)."
            )
        return root

    # -- building ------------------------------------------------------------------------------------------
    def processors(self, split: str) -> tuple[Any, Any]:
        from vlkit.processors import load_processor

        which = "train" if split == "train" else "eval"
        out = []
        for section in (self.cfg.vis_processor, self.cfg.text_processor):
            spec = section.get(which) if section else None
            if spec is None:
                out.append(None)
                continue
            spec = OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else dict(spec)
            out.append(load_processor(spec.pop("name"), spec))
        return out[0], out[1]

    def read_annotation(self, split: str, info: DictConfig) -> tuple[Any, Path]:
        """The parsed json of ``split``'s annotation file, and its path."""
        path = self.path(info.storage)
        if not path.is_file():
            hint = (
                f"run `vlkit data download {self.name}` to fetch it"
                if info.get("url")
                else f"set datasets.{self.name}.build_info.annotations.{split}.storage"
            )
            raise FileNotFoundError(f"{self.name}: annotation file for split '{split}' not found at {path}; {hint}.")
        try:
            return json.loads(path.read_text(encoding="utf-8")), path
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: not valid JSON ({err}).") from None

    def annotation_schema(self, split: str) -> AnnotationSchema:
        """The format of ``split``'s entries (``SCHEMAS["train"]`` for train, ``SCHEMAS["eval"]`` otherwise)."""
        kind = "train" if split == "train" else "eval"
        if kind not in self.SCHEMAS:
            raise TypeError(
                f"{type(self).__name__} declares no annotation schema for {kind} splits: set its SCHEMAS = "
                "{'train': AnnotationSchema(...), 'eval': ...} (vlkit.data.annotation_schema)"
            )
        return self.SCHEMAS[kind]

    def validate(self, split: str, entries: Any, source: Path, schema: AnnotationSchema | None = None) -> list[dict]:
        """The entries of ``split`` that fit its schema; bad ones raise (``error``) or are counted (``skip``)."""
        counter = self.annotation_skips.setdefault(split, BadSampleCounter(f"{self.name}/{split}"))
        return validate_entries(entries, schema or self.annotation_schema(split), str(source), self.policy, counter)

    def load_annotation(self, split: str, info: DictConfig) -> Any:
        """``split``'s entries, checked against its schema."""
        entries, path = self.read_annotation(split, info)
        return self.validate(split, entries, path)

    def common_kwargs(self, split: str, media: str = "images") -> dict[str, Any]:
        """Keyword arguments every :class:`~vlkit.data.datasets.VLDataset` of ``split`` takes."""
        vis, txt = self.processors(split)
        return {
            "vis_processor": vis,
            "text_processor": txt,
            "name": f"{self.name}/{split}",
            "policy": self.policy,
            "max_image_pixels": self.cfg.max_image_pixels,
            "alpha": self.cfg.alpha,
            "missing_hint": f"{self.IMAGES_HINT}; they belong under {self.path_or_default(media)}, or set "
            f"datasets.{self.name}.build_info.{media}.storage",
        }

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        raise TypeError(f"{type(self).__name__} must implement build_split()")

    def build_datasets(self, splits: Collection[str] | None = None) -> dict[str, Dataset]:
        """The splits listed under ``build_info.annotations`` (only those in ``splits`` when given).

        A run builds only the splits it names (``run.train_splits``/``valid_splits``/``test_splits``), so a
        dataset whose config lists ``val`` and ``test`` trains without those files being there.
        """
        annotations = self.cfg.build_info.get("annotations") or {}
        if not annotations:
            raise ConfigError(f"datasets.{self.name}.build_info.annotations lists no splits.")
        out = {}
        for split, info in annotations.items():
            if splits is not None and split not in splits:
                continue
            annotation = self.load_annotation(split, info)
            if self.cfg.max_samples and isinstance(annotation, list):
                annotation = annotation[: self.cfg.max_samples]
            out[split] = self.build_split(split, annotation, info)
            skipped = self.annotation_skips.get(split)
            if skipped is not None and hasattr(out[split], "bad_samples"):
                out[split].bad_samples.merge(skipped)
            logger.info(
                "%s/%s: %d samples", self.name, split, len(out[split]) if hasattr(out[split], "__len__") else -1
            )
        return out

    def downloads(self) -> list[tuple[str, Path, str | None]]:
        """(url, target, sha256) of every file with a public URL in this builder's config."""
        items = []
        for info in (self.cfg.build_info.get("annotations") or {}).values():
            for key in ("", "gt_", "answer_list_", "eval_"):
                url = info.get(f"{key}url")
                store = info.get(f"{key}storage" if key else "storage")
                sha = info.get(f"{key}sha256")
                if url and store:
                    items.append((str(url), self.path(store), str(sha).lower() if sha is not None else None))
        return items

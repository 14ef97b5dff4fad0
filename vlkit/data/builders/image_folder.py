"""The ``image_folder`` builder: each split is a folder with one sub-folder of images per class."""

from __future__ import annotations

import json
from typing import Any

from omegaconf import DictConfig
from torch.utils.data import Dataset

from vlkit.common.config import ConfigError
from vlkit.data.annotation_schema import AnnotationSchema, Field
from vlkit.data.builders.base_builder import BaseDatasetBuilder
from vlkit.data.datasets.image_folder import ImageFolderDataset, scan_class_folders

# the entries the folder scan produces (checked like a json file's, so every builder declares its format)
IMAGE_FOLDER = AnnotationSchema(
    (Field("image", (str,)), Field("label", (int,))), "image files in one sub-folder per class"
)


class ImageFolderBuilder(BaseDatasetBuilder):
    """``build_info.annotations.<split>.storage`` is the split's folder (``root/<class>/<image>``).

    ``build_info.annotations.<split>.class_names_storage`` may name a json ``{folder: class name}`` file
    (e.g. ImageNet's synset ids to words); otherwise a folder's name is its class name.
    """

    IMAGES_HINT = "Put each class's images in its own sub-folder of the split folder"
    SCHEMAS = {"train": IMAGE_FOLDER, "eval": IMAGE_FOLDER}

    def load_annotation(self, split: str, info: DictConfig) -> Any:
        folder = self.path(info.get("storage"))
        key = f"datasets.{self.name}.build_info.annotations.{split}"
        if folder is None:
            raise ConfigError(f"{key}.storage is not set: point it at the split's folder (one sub-folder per class).")
        names = None
        if info.get("class_names_storage"):
            path = self.path(info.class_names_storage)
            if not path.is_file():
                raise FileNotFoundError(f"{key}.class_names_storage: {path} does not exist.")
            names = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(names, dict):
                raise ConfigError(f"{path}: expected a json object {{folder: class name}} ({key}.class_names_storage).")
        try:
            class_names, entries = scan_class_folders(folder, names)
        except (FileNotFoundError, ValueError) as err:
            raise type(err)(f"{self.name}/{split} ({key}.storage): {err}") from None
        return {"class_names": class_names, "entries": self.validate(split, entries, folder), "folder": folder}

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        entries = annotation["entries"]
        if self.cfg.max_samples and len(entries) > self.cfg.max_samples:  # evenly spaced: every class keeps some
            step = len(entries) / self.cfg.max_samples
            entries = [entries[int(i * step)] for i in range(self.cfg.max_samples)]
        return ImageFolderDataset(
            entries,
            vis_root=annotation["folder"],
            class_names=annotation["class_names"],
            **self.common_kwargs(split),
        )

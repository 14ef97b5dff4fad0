"""Images sorted into one folder per class (torchvision's ``ImageFolder`` layout), for classification.

``root/<class>/<image>``: the classes are the sub-folders, in sorted order; images are found at any depth
below their class folder. A class's display name is its folder name with ``_`` read as a space
("golden_retriever" -> "golden retriever"), or what a ``{folder: name}`` mapping says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlkit.data.datasets.base import VLDataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def scan_class_folders(root: Path, names: dict[str, str] | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """``(class names, entries)`` of an image-folder tree; entries are ``{"image": rel path, "label": index}``.

    Raises:
        FileNotFoundError: ``root`` is missing, has no class sub-folders, or a class folder holds no image.
        ValueError: ``names`` maps a folder that is not there.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected one sub-folder of images per class).")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise FileNotFoundError(f"{root}: no class sub-folders; put each class's images in root/<class name>/.")
    names = dict(names or {})
    unknown = sorted(set(names) - set(folders))
    if unknown:
        raise ValueError(f"class names given for folders that are not in {root}: {', '.join(unknown)}.")
    entries: list[dict[str, Any]] = []
    for label, folder in enumerate(folders):
        files = sorted(p for p in (root / folder).rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f"{root / folder}: class folder holds no image ({', '.join(IMAGE_EXTENSIONS)}).")
        entries += [{"image": p.relative_to(root).as_posix(), "label": label} for p in files]
    return [names.get(f, f.replace("_", " ")) for f in folders], entries


class ImageFolderDataset(VLDataset):
    """``image``, ``label`` (class index) and ``image_id`` (entry index); ``class_names`` in label order."""

    def __init__(self, *args: Any, class_names: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.class_names = class_names

    def load(self, index: int) -> dict[str, Any]:
        entry = self.annotation[index]
        return {"image": self.image(entry["image"]), "label": int(entry["label"]), "image_id": index}

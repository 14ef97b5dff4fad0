"""Map-style dataset base: processors, robust reading, the bad-sample policy, and collation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from vlkit.data.bad_samples import BadSampleCounter, Skipped, count_skipped
from vlkit.data.io import DEFAULT_MAX_IMAGE_PIXELS, BadSampleError, decode_text, load_image


def collate(samples: list[dict | Skipped | None]) -> dict[str, Any]:
    """Drop skipped samples, stack tensors, keep everything else as lists.

    Adds ``num_skipped`` (samples skipped) and, when there were skips, ``skipped`` (reason -> where -> count).
    """
    kept, num_skipped, events = count_skipped(samples)
    batch: dict[str, Any] = {"num_skipped": num_skipped}
    if events:
        batch["skipped"] = events
    if not kept:
        return batch
    for key in kept[0]:
        values = [s[key] for s in kept]
        if isinstance(values[0], torch.Tensor):
            batch[key] = torch.stack(values)
        elif isinstance(values[0], int | float) and not isinstance(values[0], bool):
            batch[key] = torch.tensor(values)
        else:
            batch[key] = values
    return batch


class VLDataset(Dataset):
    """Base of vlkit's map-style datasets.

    Args:
        annotation: The annotation entries (one sample each).
        vis_processor: Turns a PIL image (or a video path) into a tensor.
        text_processor: Cleans a caption/question (raises ``EmptyTextError`` for empty text).
        vis_root: Directory image/video paths are relative to.
        name: Dataset name used in messages.
        policy: ``error`` or ``skip`` for bad samples.
        max_image_pixels: Decompression-bomb limit (``datasets.<name>.max_image_pixels``).
        alpha: ``composite`` transparent images on white or ``drop`` their alpha (``datasets.<name>.alpha``).
        missing_hint: Appended to "file not found" errors: where the media come from and which key points at them.
    """

    def __init__(
        self,
        annotation: list[dict],
        vis_processor: Callable | None,
        text_processor: Callable | None,
        vis_root: str | Path,
        name: str,
        policy: str = "error",
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
        missing_hint: str = "",
        alpha: str = "composite",
    ) -> None:
        self.annotation = annotation
        self.vis_processor = vis_processor
        self.text_processor = text_processor
        self.vis_root = Path(vis_root)
        self.name = name
        self.policy = policy
        self.max_image_pixels = max_image_pixels
        self.missing_hint = missing_hint
        self.alpha = alpha
        self.bad_samples = BadSampleCounter(name)

    def __len__(self) -> int:
        return len(self.annotation)

    def load(self, index: int) -> dict[str, Any]:
        """One sample (subclasses); raise :class:`BadSampleError` for unusable input."""
        raise TypeError(f"{type(self).__name__} must implement load()")

    def __getitem__(self, index: int) -> dict[str, Any] | Skipped:
        """The sample, or (policy ``skip``) a :class:`Skipped` marker the collater counts."""
        try:
            return self.load(index)
        except (BadSampleError, ValueError, RuntimeError) as err:
            bad = as_bad_sample(err, f"{self.name}[{index}]")
            if bad is None:
                raise
            if self.policy == "error":
                raise BadSampleError(
                    f"{self.name}[{index}] {bad.source}",
                    f"{bad.reason}. Fix or remove it, or set run.on_bad_sample=skip",
                    bad.kind,
                ) from None
            return self.bad_samples.record(bad.source, bad.reason, bad.kind)

    def check_exists(self, path: Path, what: str) -> None:
        """Raise a :class:`BadSampleError` that says where the file should come from when it is missing."""
        if not path.is_file():
            hint = f" ({self.missing_hint})" if self.missing_hint else ""
            raise BadSampleError(str(path), f"{what} file not found{hint}")

    def image(self, rel: str) -> torch.Tensor:
        path = self.vis_root / rel
        self.check_exists(path, "image")
        img = load_image(path, max_pixels=self.max_image_pixels, alpha=self.alpha)
        return self.vis_processor(img) if self.vis_processor is not None else img

    def text(self, raw: str | bytes | None, source: str) -> str:
        text = decode_text(raw, source)
        if self.text_processor is None:
            return text
        try:
            return self.text_processor(text)
        except ValueError as err:  # EmptyTextError: nothing left after cleaning
            raise BadSampleError(source, str(err), kind="empty text") from None

    def collater(self, samples: list[dict | Skipped | None]) -> dict[str, Any]:
        return collate(samples)


def as_bad_sample(err: Exception, item: str) -> BadSampleError | None:
    """``err`` as a :class:`BadSampleError` when it is about bad input (else ``None``: a bug to raise)."""
    if isinstance(err, BadSampleError):
        return err
    kind = type(err).__name__
    if kind == "EmptyTextError":  # raised by the text processors
        return BadSampleError(item, str(err), kind="empty text")
    if kind == "VideoDecodeError":  # raised by the video processors; the message starts with the path
        source, _, reason = str(err).partition(": ")
        return BadSampleError(source, reason or str(err), kind="unreadable video")
    return None
